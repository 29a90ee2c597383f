//! The first partner and its owner admin, so a fresh install has someone to
//! sign in as. `custodian bootstrap` does it on demand; `custodian serve` does
//! it by itself on an empty database. The one-time password is drawn from the
//! CSPRNG, stored only as an argon2id hash, shown once on standard output
//! (never logged), and must be replaced at first sign-in.

use diesel::Connection;
use secrecy::SecretString;

use crate::auth::draw_secret;
use crate::auth::password::Passwords;
use crate::db::admins::{self, Admin, Role};
use crate::db::partners::{self, Partner};
use crate::db::{Db, DbConn, DbError};

/// The PostgreSQL advisory lock bootstraps take ("bootstra" in ASCII).
const BOOTSTRAP_LOCK: i64 = 0x626f6f7473747261;

/// Who to create.
#[derive(Debug, Clone)]
pub struct BootstrapRequest {
    pub partner_name: String,
    pub owner_email: String,
    pub owner_name: String,
}

impl Default for BootstrapRequest {
    fn default() -> Self {
        Self {
            partner_name: "My MSP".into(),
            owner_email: "owner@custodian.local".into(),
            owner_name: "Owner".into(),
        }
    }
}

/// What was created; the password exists nowhere else.
#[derive(Debug)]
pub struct Bootstrapped {
    pub partner_id: String,
    pub partner_name: String,
    pub owner_id: String,
    pub owner_email: String,
    pub one_time_password: SecretString,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("the database already has a partner; bootstrap creates only the first")]
    AlreadyBootstrapped,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Creates the first partner and its owner, in one transaction; refuses when
/// any partner exists (also when two starts race: one creates, one refuses).
pub async fn bootstrap(
    db: &Db,
    passwords: &Passwords,
    request: BootstrapRequest,
) -> Result<Bootstrapped, BootstrapError> {
    let email = crate::domain::Email::parse(&request.owner_email)
        .map_err(|error| BootstrapError::Invalid(format!("the owner's email {error}")))?
        .into_string();
    let partner_name = crate::domain::text::name(&request.partner_name)
        .map_err(|error| BootstrapError::Invalid(format!("the partner's name {error}")))?;
    let owner_name = crate::domain::text::name(&request.owner_name)
        .map_err(|error| BootstrapError::Invalid(format!("the owner's name {error}")))?;
    // 15 random bytes: 20 characters, 120 bits.
    let password = draw_secret(15);
    let hash = passwords.hash(password.clone()).await;
    let now = crate::clock::system_now();
    let partner = Partner::new(&partner_name, now);
    let admin = Admin {
        id: crate::ids::AdminId::new(),
        partner_id: partner.id,
        email: email.clone(),
        name: owner_name,
        role: Role::Owner,
        password_hash: hash,
        must_change_password: true,
        token_generation: 0,
        locale: "en".into(),
        created_at: now,
        updated_at: now,
        invitation_expires_at: None,
    };
    let created = partner.clone();
    let owner_id = admin.id.to_string();
    let inserted = db
        .run(move |conn| {
            conn.transaction(|conn| {
                if let DbConn::Postgres(pg) = conn {
                    // Two first starts at once: one bootstraps, one waits and
                    // then finds the partner. (SQLite serializes writers.)
                    use diesel::RunQueryDsl;
                    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({BOOTSTRAP_LOCK})"))
                        .execute(pg)?;
                }
                if partners::count(conn)? > 0 {
                    return Ok::<_, DbError>(false);
                }
                partners::insert(conn, &partner)?;
                admins::insert(conn, &admin)?;
                Ok(true)
            })
        })
        .await?;
    if !inserted {
        return Err(BootstrapError::AlreadyBootstrapped);
    }
    Ok(Bootstrapped {
        partner_id: created.id.to_string(),
        partner_name: created.name,
        owner_id,
        owner_email: email,
        one_time_password: password,
    })
}

/// What `serve` and `bootstrap` print, once, on standard output.
pub fn announcement(created: &Bootstrapped) -> String {
    use secrecy::ExposeSecret;
    format!(
        "Created the first partner, {name:?}, and its owner admin.\n\
         \x20 partner:    {partner}\n\
         \x20 sign in as: {email}\n\
         \x20 password:   {password}\n\
         This password is shown only now and works once: the first sign-in must set a new one.\n",
        name = created.partner_name,
        partner = created.partner_id,
        email = created.owner_email,
        password = created.one_time_password.expose_secret(),
    )
}
