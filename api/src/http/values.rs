//! Request values that are checked as they are read, with the rule the
//! contract publishes for them: a name, a line of text, an email address.
//! A value that breaks its rule fails the body's decoding, which answers
//! 422 naming the field by its path, and the schema each one publishes
//! carries the same pattern and lengths ([`crate::domain`]), so a client
//! that validates against the contract and the server agree.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::{Email, email, text};

fn string_schema(max: usize, pattern: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// A name: one line of 1 to 200 visible characters, kept trimmed and in NFC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        text::name(&raw).map(Self).map_err(de::Error::custom)
    }
}

impl PartialSchema for Name {
    fn schema() -> RefOr<Schema> {
        string_schema(
            text::NAME_MAX,
            &text::NAME_PATTERN,
            "One line of 1 to 200 characters, at least one visible and not a space: no control, format (bidirectional override, zero-width space) or line-separator characters. Kept trimmed, in Unicode NFC.",
        )
    }
}

impl ToSchema for Name {}

/// The id a PSA or a directory gives a company or a user: one line of 1 to
/// 255 visible characters, kept trimmed and in NFC, compared exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalId(String);

/// The longest external id.
pub const EXTERNAL_ID_MAX: usize = 255;

impl ExternalId {
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for ExternalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        text::name_of(&raw, EXTERNAL_ID_MAX)
            .map(Self)
            .map_err(de::Error::custom)
    }
}

impl PartialSchema for ExternalId {
    fn schema() -> RefOr<Schema> {
        string_schema(
            EXTERNAL_ID_MAX,
            &text::NAME_PATTERN,
            "The PSA's or the directory's own id for it, which a sync finds it by: one line of 1 to 255 characters, at least one visible and not a space (no control, format or line-separator characters). Kept trimmed, in Unicode NFC, and compared exactly.",
        )
    }
}

impl ToSchema for ExternalId {}

/// Why a reset was made: one line of at most 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

/// The PSA ticket a reset belongs to: one line of at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket(String);

/// The longest reason and ticket.
pub const REASON_MAX: usize = 500;
pub const TICKET_MAX: usize = 100;

/// Reads one line of at most `max` characters, trimmed.
fn line_of<'de, D: Deserializer<'de>>(deserializer: D, max: usize) -> Result<String, D::Error> {
    let raw = String::deserialize(deserializer)?;
    text::line(&raw, max).map_err(de::Error::custom)
}

/// The text, trimmed; `None` when nothing is left.
fn some_text(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

impl Reason {
    pub fn into_text(self) -> Option<String> {
        some_text(self.0)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        line_of(deserializer, REASON_MAX).map(Self)
    }
}

impl PartialSchema for Reason {
    fn schema() -> RefOr<Schema> {
        string_schema(
            REASON_MAX,
            &text::LINE_PATTERN,
            "Why, for the log: one line of at most 500 characters (no control, format or line-separator characters).",
        )
    }
}

impl ToSchema for Reason {}

/// As kept: what an idempotent retry's fingerprint is made of.
impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl Ticket {
    pub fn into_text(self) -> Option<String> {
        some_text(self.0)
    }
}

impl<'de> Deserialize<'de> for Ticket {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        line_of(deserializer, TICKET_MAX).map(Self)
    }
}

impl PartialSchema for Ticket {
    fn schema() -> RefOr<Schema> {
        string_schema(
            TICKET_MAX,
            &text::LINE_PATTERN,
            "The ticket in the partner's PSA: one line of at most 100 characters (no control, format or line-separator characters).",
        )
    }
}

impl ToSchema for Ticket {}

impl Serialize for Ticket {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// An email address ([`crate::domain::email`]): ASCII, at most 254
/// characters, kept lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(pub Email);

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Email::parse(&raw).map(Self).map_err(de::Error::custom)
    }
}

impl PartialSchema for EmailAddress {
    fn schema() -> RefOr<Schema> {
        string_schema(
            email::MAX_LENGTH,
            email::PATTERN,
            "An ASCII email address, at most 254 characters: a dot-atom local part, a domain of letters, digits and hyphens (an internationalized domain in its xn-- form). Kept lowercase.",
        )
    }
}

impl ToSchema for EmailAddress {}

/// Canonical base64 with padding (RFC 4648 §4): whole quanta, the last one
/// padded, its unused bits zero, which is what the server's decoder takes.
pub const BASE64_PATTERN: &str =
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

/// Characters of base64 that `bytes` bytes take.
pub const fn base64_chars(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

use crate::http::contract::Rule;

/// An authentication key derived from a master password.
pub const AUTH_KEY: Rule = Rule::Length { min: 16, max: 1024 };
/// A client's key-derivation parameters, opaque to the server.
pub const KDF_PARAMS: Rule = Rule::Length { min: 0, max: 1024 };
/// A vault key, encrypted or wrapped: 1 to 4,096 bytes.
pub const VAULT_KEY: Rule = Rule::Base64 {
    min: 4,
    max: base64_chars(4096),
};
/// A reset link's token as sent.
pub const LINK_TOKEN: Rule = Rule::Length { min: 1, max: 256 };
/// A recovery key's verifier: 16 to 64 bytes.
pub const RECOVERY_VERIFIER: Rule = Rule::Base64 {
    min: base64_chars(16),
    max: base64_chars(64),
};
/// An admin's new password, in characters (NIST SP 800-63B asks for at
/// least 8; an admin plane asks for more).
pub const NEW_PASSWORD: Rule = Rule::Length {
    min: *crate::app::sign_in::PASSWORD_CHARS.start(),
    max: *crate::app::sign_in::PASSWORD_CHARS.end(),
};
/// A vault item's ciphertext or backup copy: at most 256 KiB.
pub const ITEM: Rule = Rule::Base64 {
    min: 4,
    max: base64_chars(256 * 1024),
};
/// The revision a vault write replaces: 0 for a new item (the revision
/// written is one more, so the last is never replaced).
pub const REVISION: Rule = Rule::Range {
    min: 0,
    max: i64::MAX - 1,
};
/// How long backup copies are kept: a day to ten years.
pub const RETENTION_DAYS: Rule = Rule::Range { min: 1, max: 3650 };
/// An X25519 public key: 32 bytes.
pub const PUBLIC_KEY: Rule = Rule::PublicKey;

/// 32 bytes of canonical base64 (43 characters and `=`), not all zero: the
/// all-zero point is no real key, and anything encrypted to it is open to
/// all. Written without lookahead, which not every schema validator has:
/// the first character that is not `A` comes at some place, or none does.
pub static PUBLIC_KEY_PATTERN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    const ANY: &str = "[A-Za-z0-9+/]";
    const NOT_A: &str = "[B-Za-z0-9+/]";
    // The 43rd character carries 2 unused bits, which must be zero.
    const LAST: &str = "[AEIMQUYcgkosw048]";
    const LAST_NOT_A: &str = "[EIMQUYcgkosw048]";
    let mut ways: Vec<String> = (0..42)
        .map(|a| format!("A{{{a}}}{NOT_A}{ANY}{{{}}}{LAST}", 41 - a))
        .collect();
    ways.push(format!("A{{42}}{LAST_NOT_A}"));
    format!("^(?:{})=$", ways.join("|"))
});
/// A temporary secret's lifetime: 5 minutes to 30 days.
pub const SECRET_TTL: Rule = Rule::Range {
    min: crate::app::partner::SECRET_TTL_SECONDS.0,
    max: crate::app::partner::SECRET_TTL_SECONDS.1,
};
/// An invitation's lifetime: 1 hour to 30 days.
pub const INVITATION_TTL: Rule = Rule::Range {
    min: crate::app::partner::INVITATION_TTL_SECONDS.0,
    max: crate::app::partner::INVITATION_TTL_SECONDS.1,
};
/// Checks in one authorization request.
pub const CHECKS: Rule = Rule::Items { min: 1, max: 100 };
/// The companies an API client is limited to, when it is.
pub const CLIENT_COMPANIES: Rule = Rule::Items { min: 1, max: 1000 };

/// Checks `raw` against a [`Rule::Length`] (characters) or decodes it
/// against a [`Rule::Base64`]; a 422 naming `field` otherwise.
pub fn checked(field: &str, raw: &str, rule: Rule) -> Result<(), crate::error::ApiError> {
    let count = raw.chars().count();
    let (min, max) = match rule {
        Rule::Length { min, max } | Rule::Base64 { min, max } => (min, max),
        Rule::PublicKey => (44, 44),
        Rule::Range { .. } | Rule::Items { .. } => return Ok(()),
    };
    if !(min..=max).contains(&count) {
        return Err(crate::error::ApiError::invalid(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

/// Decodes canonical padded base64 of `min` to `max` characters; a 422
/// naming `field` otherwise.
pub fn base64(field: &str, raw: &str, rule: Rule) -> Result<Vec<u8>, crate::error::ApiError> {
    use base64::Engine;
    checked(field, raw, rule)?;
    base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| {
            crate::error::ApiError::invalid(field, "must be canonical base64, with padding")
        })
}

/// Checks an integer against a [`Rule::Range`].
pub fn in_range(field: &str, value: i64, rule: Rule) -> Result<(), crate::error::ApiError> {
    if let Rule::Range { min, max } = rule
        && !(min..=max).contains(&value)
    {
        return Err(crate::error::ApiError::invalid(
            field,
            format!("must be from {min} to {max}"),
        ));
    }
    Ok(())
}

/// A field that was sent, null or not, for a change where null removes a
/// value: `Some(None)` for null; left out, `#[serde(default)]` makes it
/// `None`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    /// The pattern and the server's decoder agree: on every length of
    /// every byte value, and on strings the decoder refuses.
    #[test]
    fn the_base64_pattern_is_the_decoder() {
        let pattern = regex::Regex::new(BASE64_PATTERN).unwrap();
        let engine = base64::engine::general_purpose::STANDARD;
        for length in 0..9 {
            for seed in 0..=255u8 {
                let bytes: Vec<u8> = (0..length)
                    .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7))
                    .collect();
                let text = engine.encode(&bytes);
                assert!(pattern.is_match(&text), "{text}");
            }
        }
        for text in [
            "AB==", "ABC=", "A===", "AAAA=", "AAA", " AAAA", "AA==AA==", "AA-_",
        ] {
            assert!(!pattern.is_match(text), "{text}");
            assert!(engine.decode(text).is_err(), "{text}");
        }
        assert_eq!(base64_chars(32), 44);
        let key = regex::Regex::new(&PUBLIC_KEY_PATTERN).unwrap();
        for seed in 1..=255u8 {
            let mut bytes = [0u8; 32];
            bytes[(seed % 32) as usize] = seed;
            assert!(key.is_match(&engine.encode(bytes)), "{bytes:?}");
        }
        assert!(key.is_match(&engine.encode([7u8; 32])));
        assert!(!key.is_match(&engine.encode([0u8; 32])), "all zero");
        assert!(!key.is_match(&engine.encode([1u8; 31])));
        assert_eq!(base64_chars(4096), 5464);
    }
}
