//! Access tokens: JWTs signed with Ed25519 (EdDSA), verified with the
//! algorithm pinned and `iss`, `aud`, `exp`, `nbf`, `iat` and `sub` required,
//! within a 30-second leeway (RFC 8725). Each kind of token has its own
//! audience and claims type, so an end-user account token can never pass as
//! an admin token.
//!
//! Keys live in the `signing_keys` table, the private half sealed under the
//! server key; the public halves are published at `/.well-known/jwks.json`
//! with their `kid` (the RFC 7638 thumbprint). The first start creates one
//! key; a retired key keeps verifying until `verify_until`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::{RngCore, rngs::OsRng};
use serde::{Deserialize, Serialize};

use crate::auth::keys::ServerKeys;
use crate::db::signing_keys::{self, SigningKeyRow};
use crate::db::{Db, DbConn, DbError};

/// The audience of admin and API-client tokens (the admin plane).
pub const ADMIN_AUDIENCE: &str = "custodian:admin";

/// The audience of end users' account tokens. Another audience and another
/// claims type: an account token never verifies as an admin token.
pub const ACCOUNT_AUDIENCE: &str = "custodian:account";

/// The audience of the platform operator's tokens: a third audience and
/// claims type, so an operator's token never passes inside a partner, nor
/// a partner's outside one.
pub const OPERATOR_AUDIENCE: &str = "custodian:operator";

/// The scope of an operator's token.
pub const SCOPE_OPERATOR: &str = "operator";

/// How long an access token lives.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// What a token may be used for.
pub const SCOPE_ADMIN: &str = "admin";
/// An admin who must replace a one-time password may do only that.
pub const SCOPE_PASSWORD_CHANGE: &str = "password:change";

/// Who an admin-plane token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Admin,
    ApiClient,
}

/// The claims of an admin-plane access token: an admin's or an API client's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminClaims {
    pub iss: String,
    pub aud: String,
    /// The admin's or the API client's id.
    pub sub: String,
    /// Which of the two `sub` is; required, so neither passes as the other.
    pub kind: SubjectKind,
    /// The subject's partner.
    pub partner: String,
    /// The subject's token generation when issued: bumping it revokes the token.
    pub generation: i64,
    /// An admin's: `admin` or `password:change`. An API client's: its
    /// scopes, space-separated (informational: each request reads them anew).
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// The claims of an end user's account token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountClaims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: String,
    /// The user's partner.
    pub partner: String,
    /// The user's token generation when issued: a reset bumps it.
    pub generation: i64,
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// The claims of a platform operator's token: no partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorClaims {
    pub iss: String,
    pub aud: String,
    /// The operator's id, or its API client's.
    pub sub: String,
    /// The operator's token generation when issued (0 for a client).
    pub generation: i64,
    /// Whether `sub` is one of the operator's API clients (absent: a
    /// person).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client: bool,
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Why a token was refused. Every one answers 401 alike; the kind is for the
/// log and the tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("wrong audience")]
    WrongAudience,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong algorithm")]
    WrongAlgorithm,
    #[error("unknown key id")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("malformed: {0}")]
    Malformed(String),
}

struct VerifyingKey {
    key: DecodingKey,
}

/// The keys this server signs and verifies with.
pub struct TokenService {
    issuer: String,
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, VerifyingKey>,
    jwks: JwkSet,
    /// Admin-plane tokens whose signature and claims already verified, by
    /// their exact text: a token is sent with every request of a session,
    /// and its EdDSA check was a fifth of an authorized read's time. A hit
    /// still checks expiry; revocation is the caller's generation check,
    /// made per request regardless.
    verified: std::sync::Mutex<HashMap<String, AdminClaims>>,
    /// What "now" is for issuing and for checking expiry: the server's
    /// clock (a test's manual one ages tokens when it moves).
    clock: crate::clock::Clock,
}

/// Verified tokens kept at most; the cache starts over beyond it.
const VERIFIED_CACHE: usize = 10_000;

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.issuer)
            .field("signing_kid", &self.signing_kid)
            .finish_non_exhaustive()
    }
}

/// The PostgreSQL advisory lock that serializes first-key creation ("signkeys").
const KEY_LOCK: i64 = 0x7369676e6b657973;

/// A fresh Ed25519 key: its row (seed sealed) for the table.
fn new_key_row(keys: &ServerKeys, now: NaiveDateTime) -> SigningKeyRow {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    let signing = SigningKey::from_bytes(&seed);
    let public_key = signing.verifying_key().to_bytes();
    let kid = thumbprint(&public_key);
    let row = SigningKeyRow {
        private_key_ciphertext: keys.seal(&seal_context(&kid), &seed),
        kid,
        algorithm: "EdDSA".into(),
        public_key: public_key.to_vec(),
        created_at: now,
        retired_at: None,
        verify_until: None,
    };
    seed.fill(0);
    row
}

fn seal_context(kid: &str) -> String {
    format!("signing_keys/{kid}")
}

fn jwk_of(public_key: &[u8]) -> Jwk {
    let decoding = DecodingKey::from_ed_der(public_key);
    Jwk::from_decoding_key(&decoding, Some(Algorithm::EdDSA)).expect("an Ed25519 key has a JWK")
}

/// RFC 7638 thumbprint of an Ed25519 public key: the key's id.
fn thumbprint(public_key: &[u8]) -> String {
    jwk_of(public_key)
        .thumbprint(ThumbprintHash::SHA256)
        .expect("an OKP key has an RFC 7638 thumbprint")
}

impl TokenService {
    /// Loads the keys, creating the first one when there is none.
    pub async fn load_or_create(
        db: &Db,
        keys: std::sync::Arc<ServerKeys>,
        issuer: String,
        clock: crate::clock::Clock,
    ) -> anyhow::Result<Self> {
        let sealing = keys.clone();
        let clock_in = clock.clone();
        let rows = db
            .run(move |conn| {
                use diesel::Connection;
                conn.transaction(|conn| {
                    if let DbConn::Postgres(pg) = conn {
                        use diesel::RunQueryDsl;
                        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({KEY_LOCK})"))
                            .execute(pg)?;
                    }
                    let now = clock_in.now();
                    let mut rows = signing_keys::verifying(conn, now)?;
                    if !rows.iter().any(|r| r.retired_at.is_none()) {
                        let row = new_key_row(&sealing, now);
                        signing_keys::insert(conn, &row)?;
                        tracing::info!(kid = %row.kid, "created a token signing key");
                        rows.insert(0, row);
                    }
                    Ok::<_, DbError>(rows)
                })
            })
            .await?;
        Ok(Self::from_rows(&keys, issuer, &rows)?.with_clock(clock))
    }

    /// The same service, reading `clock` for "now".
    pub fn with_clock(mut self, clock: crate::clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Now, in seconds since the epoch, by the service's clock.
    fn now(&self) -> i64 {
        self.clock.now().and_utc().timestamp()
    }

    /// Builds the service from key rows, newest first; the newest active key signs.
    pub fn from_rows(
        keys: &ServerKeys,
        issuer: String,
        rows: &[SigningKeyRow],
    ) -> anyhow::Result<Self> {
        let active = rows
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or_else(|| anyhow::anyhow!("no active signing key"))?;
        let seed = keys
            .open(&seal_context(&active.kid), &active.private_key_ciphertext)
            .map_err(|_| {
                anyhow::anyhow!(
                    "signing key {} does not open with this server key (is CUSTODIAN_SECRET_KEY the one it was made with?)",
                    active.kid
                )
            })?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| anyhow::anyhow!("signing key {} is not an Ed25519 seed", active.kid))?;
        // PKCS#8 v1 (no public key inside), the form jsonwebtoken reads.
        let der = KeypairBytes {
            secret_key: seed,
            public_key: None,
        }
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("encoding the signing key: {e}"))?;
        let signing = EncodingKey::from_ed_der(der.as_bytes());

        let mut verifying = HashMap::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        for row in rows {
            if row.algorithm != "EdDSA" || row.public_key.len() != 32 {
                continue;
            }
            let mut jwk = jwk_of(&row.public_key);
            jwk.common.key_id = Some(row.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            jwks.keys.push(jwk);
            verifying.insert(
                row.kid.clone(),
                VerifyingKey {
                    key: DecodingKey::from_ed_der(&row.public_key),
                },
            );
        }
        Ok(Self {
            issuer,
            signing_kid: active.kid.clone(),
            signing,
            verifying,
            jwks,
            verified: Default::default(),
            clock: crate::clock::Clock::system(),
        })
    }

    /// A service with a fresh key stored nowhere: for tests, whose tokens
    /// need not outlive the process.
    pub fn ephemeral(keys: &ServerKeys, issuer: String) -> Self {
        let row = new_key_row(keys, crate::clock::system_now());
        Self::from_rows(keys, issuer, &[row]).expect("a fresh key loads")
    }

    /// The published public keys.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs an admin token for `admin` of `partner` at `generation`.
    pub fn issue_admin(
        &self,
        admin: &str,
        partner: &str,
        generation: i64,
        scope: &str,
    ) -> (String, i64) {
        self.issue_plane(SubjectKind::Admin, admin, partner, generation, scope)
    }

    /// Signs an API client's token for `client` of `partner` at `generation`.
    pub fn issue_api_client(
        &self,
        client: &str,
        partner: &str,
        generation: i64,
        scopes: &str,
    ) -> (String, i64) {
        self.issue_plane(SubjectKind::ApiClient, client, partner, generation, scopes)
    }

    fn issue_plane(
        &self,
        kind: SubjectKind,
        subject: &str,
        partner: &str,
        generation: i64,
        scope: &str,
    ) -> (String, i64) {
        let now = self.now();
        let claims = AdminClaims {
            iss: self.issuer.clone(),
            aud: ADMIN_AUDIENCE.into(),
            sub: subject.into(),
            kind,
            partner: partner.into(),
            generation,
            scope: scope.into(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        (self.sign(&claims), ACCESS_TOKEN_SECONDS)
    }

    /// Signs an end user's account token.
    pub fn issue_account(
        &self,
        user: &str,
        partner: &str,
        generation: i64,
        scope: &str,
    ) -> (String, i64) {
        let now = self.now();
        let claims = AccountClaims {
            iss: self.issuer.clone(),
            aud: ACCOUNT_AUDIENCE.into(),
            sub: user.into(),
            partner: partner.into(),
            generation,
            scope: scope.into(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        (self.sign(&claims), ACCESS_TOKEN_SECONDS)
    }

    /// Signs a platform operator's token: a person's (`client` false) or
    /// one of its API clients'.
    pub fn issue_operator(&self, operator: &str, generation: i64, client: bool) -> (String, i64) {
        let now = self.now();
        let claims = OperatorClaims {
            iss: self.issuer.clone(),
            aud: OPERATOR_AUDIENCE.into(),
            sub: operator.into(),
            generation,
            client,
            scope: SCOPE_OPERATOR.into(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        (self.sign(&claims), ACCESS_TOKEN_SECONDS)
    }

    /// Verifies an operator's token, as [`Self::verify_admin`] does an
    /// admin's.
    pub fn verify_operator(&self, token: &str) -> Result<OperatorClaims, TokenError> {
        self.verify(token, OPERATOR_AUDIENCE)
    }

    /// Verifies an account token, as [`Self::verify_admin`] does an admin's.
    pub fn verify_account(&self, token: &str) -> Result<AccountClaims, TokenError> {
        self.verify(token, ACCOUNT_AUDIENCE)
    }

    /// Signs any claims with the active key (tests use it to forge bad ones).
    pub fn sign<C: Serialize>(&self, claims: &C) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing).expect("EdDSA signing does not fail")
    }

    /// Verifies an admin-plane token (an admin's or an API client's):
    /// signature by a known key, EdDSA only, this issuer, the admin
    /// audience, and the time claims.
    pub fn verify_admin(&self, token: &str) -> Result<AdminClaims, TokenError> {
        let now = self.now();
        let leeway = LEEWAY_SECONDS as i64;
        {
            let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(claims) = cache.get(token) {
                if claims.exp + leeway >= now {
                    return Ok(claims.clone());
                }
                cache.remove(token);
                return Err(TokenError::Expired);
            }
        }
        let claims: AdminClaims = self.verify(token, ADMIN_AUDIENCE)?;
        let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= VERIFIED_CACHE {
            cache.clear();
        }
        cache.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    fn verify<C: serde::de::DeserializeOwned + TimeClaims>(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<C, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.verifying.get(&kid).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // The time claims are checked below against the service's clock,
        // not the library's reading of the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_audience(&[audience]);
        let claims = jsonwebtoken::decode::<C>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                other => TokenError::Malformed(format!("{other:?}")),
            })?;
        let (now, leeway) = (self.now(), LEEWAY_SECONDS as i64);
        if claims.expires_at() + leeway < now {
            return Err(TokenError::Expired);
        }
        if claims.not_before() - leeway > now {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

/// The time claims of a token, checked against the service's clock.
trait TimeClaims {
    fn expires_at(&self) -> i64;
    fn not_before(&self) -> i64;
}

impl TimeClaims for AdminClaims {
    fn expires_at(&self) -> i64 {
        self.exp
    }
    fn not_before(&self) -> i64 {
        self.nbf
    }
}

impl TimeClaims for AccountClaims {
    fn expires_at(&self) -> i64 {
        self.exp
    }
    fn not_before(&self) -> i64 {
        self.nbf
    }
}

impl TimeClaims for OperatorClaims {
    fn expires_at(&self) -> i64 {
        self.exp
    }
    fn not_before(&self) -> i64 {
        self.nbf
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretBox;

    use super::*;

    fn service() -> (ServerKeys, TokenService, SigningKeyRow) {
        let keys = ServerKeys::derive(&SecretBox::new(Box::new([3u8; 32])));
        let row = new_key_row(&keys, crate::clock::system_now());
        let service = TokenService::from_rows(
            &keys,
            "https://custodian.test/".into(),
            std::slice::from_ref(&row),
        )
        .unwrap();
        (keys, service, row)
    }

    fn claims(service: &TokenService) -> AdminClaims {
        let (token, _) = service.issue_admin("a1", "p1", 0, SCOPE_ADMIN);
        service.verify_admin(&token).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_and_carries_its_claims() {
        let (_, service, row) = service();
        let (token, expires_in) = service.issue_admin("a1", "p1", 7, SCOPE_ADMIN);
        assert_eq!(expires_in, 900);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::EdDSA, Some(row.kid.as_str()))
        );
        let claims = service.verify_admin(&token).unwrap();
        assert_eq!(
            (
                claims.sub.as_str(),
                claims.partner.as_str(),
                claims.generation
            ),
            ("a1", "p1", 7)
        );
        assert_eq!(claims.aud, ADMIN_AUDIENCE);
        assert_eq!(service.jwks().keys.len(), 1);
        assert_eq!(
            service.jwks().keys[0].common.key_id.as_deref(),
            Some(row.kid.as_str())
        );
    }

    #[test]
    fn every_bad_token_is_refused_for_its_reason() {
        let (_, service, _) = service();
        let good = claims(&service);
        let now = service.now();
        let forged = |change: &dyn Fn(&mut AdminClaims)| {
            let mut c = good.clone();
            change(&mut c);
            service.verify_admin(&service.sign(&c))
        };
        assert_eq!(forged(&|c| c.exp = now - 120), Err(TokenError::Expired));
        assert_eq!(forged(&|c| c.nbf = now + 120), Err(TokenError::NotYetValid));
        assert_eq!(
            forged(&|c| c.aud = "custodian:account".into()),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(
            forged(&|c| c.iss = "https://evil.test/".into()),
            Err(TokenError::WrongIssuer)
        );
        // An end user's account token, signed by the same key: refused (its
        // claims are not an admin's either), and an admin token is no
        // account token.
        let (account, _) = service.issue_account("u1", "p1", 0, "vault");
        assert!(matches!(
            service.verify_admin(&account),
            Err(TokenError::WrongAudience | TokenError::Malformed(_))
        ));
        let (admin, _) = service.issue_admin("a1", "p1", 0, SCOPE_ADMIN);
        assert!(matches!(
            service.verify_account(&admin),
            Err(TokenError::WrongAudience | TokenError::Malformed(_))
        ));
        assert_eq!(service.verify_account(&account).unwrap().sub, "u1");
        // Within the leeway, still fine.
        assert!(forged(&|c| c.exp = now - 10).is_ok());

        // Tampered payload: same signature, other claims.
        let token = service.sign(&good);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut tampered = good.clone();
        tampered.sub = "someone-else".into();
        parts[1] = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&tampered).unwrap(),
        );
        assert_eq!(
            service.verify_admin(&parts.join(".")),
            Err(TokenError::BadSignature)
        );

        // Another key with the same kid: the signature does not verify.
        let (_, other, _) = service_with_kid(&service.signing_kid);
        assert_eq!(
            service.verify_admin(&other.sign(&good)),
            Err(TokenError::BadSignature)
        );

        // An unknown kid, and a token with no kid.
        let (_, stranger, _) = service_with_kid("unknown");
        assert_eq!(
            service.verify_admin(&stranger.sign(&good)),
            Err(TokenError::UnknownKey)
        );

        // HS256 with any secret: the algorithm is pinned.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good,
            &EncodingKey::from_secret(b"guess"),
        )
        .unwrap();
        assert_eq!(service.verify_admin(&hs), Err(TokenError::WrongAlgorithm));
        assert!(matches!(
            service.verify_admin("not.a.token"),
            Err(TokenError::Malformed(_))
        ));
    }

    fn service_with_kid(kid: &str) -> (ServerKeys, TokenService, SigningKeyRow) {
        let keys = ServerKeys::derive(&SecretBox::new(Box::new([5u8; 32])));
        let mut row = new_key_row(&keys, crate::clock::system_now());
        let seed = keys
            .open(&seal_context(&row.kid), &row.private_key_ciphertext)
            .unwrap();
        row.kid = kid.into();
        row.private_key_ciphertext = keys.seal(&seal_context(kid), &seed);
        let service = TokenService::from_rows(
            &keys,
            "https://custodian.test/".into(),
            std::slice::from_ref(&row),
        )
        .unwrap();
        (keys, service, row)
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let (_, service, _) = service();
        let (token, _) = service.issue_admin("a1", "p1", 0, SCOPE_ADMIN);
        let first = service.verify_admin(&token).unwrap();
        assert_eq!(
            service.verify_admin(&token).unwrap(),
            first,
            "from the cache"
        );
        // A remembered token past its expiry (and the leeway) is refused,
        // and forgotten.
        let mut stale = first.clone();
        stale.exp = service.now() - LEEWAY_SECONDS as i64 - 1;
        service
            .verified
            .lock()
            .unwrap()
            .insert("remembered".into(), stale);
        assert_eq!(service.verify_admin("remembered"), Err(TokenError::Expired));
        assert!(!service.verified.lock().unwrap().contains_key("remembered"));
    }

    #[test]
    fn tokens_age_by_the_services_clock() {
        let (keys, service, row) = service();
        let clock = crate::clock::Clock::manual(crate::clock::system_now());
        let service = service.with_clock(clock.clone());
        let (admin, lifetime) = service.issue_admin("a1", "p1", 0, SCOPE_ADMIN);
        let (account, _) = service.issue_account("u1", "p1", 0, "vault");
        assert!(service.verify_admin(&admin).is_ok());
        // Past expiry but within the leeway: still good; beyond it:
        // expired, the remembered one too.
        clock.advance(chrono::Duration::seconds(
            lifetime + LEEWAY_SECONDS as i64 - 1,
        ));
        assert!(service.verify_admin(&admin).is_ok());
        assert!(service.verify_account(&account).is_ok());
        clock.advance(chrono::Duration::seconds(2));
        assert_eq!(service.verify_admin(&admin), Err(TokenError::Expired));
        assert_eq!(service.verify_account(&account), Err(TokenError::Expired));
        // A verifier whose clock reads an hour earlier: not yet valid.
        let fresh = TokenService::from_rows(&keys, "https://custodian.test/".into(), &[row])
            .unwrap()
            .with_clock(crate::clock::Clock::manual(
                clock.now() - chrono::Duration::hours(1),
            ));
        let (token, _) = service.issue_admin("a1", "p1", 0, SCOPE_ADMIN);
        assert_eq!(fresh.verify_admin(&token), Err(TokenError::NotYetValid));
    }

    #[test]
    fn a_signing_key_does_not_open_under_another_server_key() {
        let (_, _, row) = service();
        let other = ServerKeys::derive(&SecretBox::new(Box::new([4u8; 32])));
        let error = TokenService::from_rows(&other, "x".into(), &[row])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("does not open with this server key"),
            "{error}"
        );
    }
}
