//! An email address as Custodian keeps it: the sign-in name of admins and
//! users, unique per partner, and where the runbook's emails go.
//!
//! Two addresses that look alike must be the same stored text, or one
//! person could be two users. So an address is ASCII, and that is the
//! whole rule, a regular expression that the contract publishes as the
//! field's `pattern` (what a client's validator accepts, the server
//! accepts):
//! - the local part is RFC 5322's `dot-atom`: letters, digits and
//!   ``!#$%&'*+-/=?^_`{|}~``, dots between them; no quoted local part, no
//!   `Name <other@address>`;
//! - the domain is dot-separated labels of letters, digits and inner
//!   hyphens, each 1 to 63 characters; an internationalized domain is given
//!   in its ASCII `xn--` form;
//! - at most 254 characters (RFC 5321's path), no whitespace inside it
//!   (spaces or tabs around it are dropped);
//! - it is kept lowercase.
//!
//! A zero-width space, a Cyrillic `а` that passes for a Latin `a`, a
//! non-breaking hyphen or a fullwidth letter is simply not ASCII: refused.

use std::sync::LazyLock;

/// The longest address (RFC 5321: a 256-byte path less its brackets).
pub const MAX_LENGTH: usize = 254;

/// An address, as the contract's `pattern`.
pub const PATTERN: &str = concat!(
    r"^[ \t]*[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*[ \t]*$",
);

static ADDRESS: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(PATTERN).expect("the email pattern compiles"));

/// A valid address, in its one stored form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why an address is refused, for a 422's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("must be at most 254 characters")]
    Length,
    #[error(
        "must be an ASCII email address (name@domain.example; an internationalized domain in its xn-- form), without spaces or quotes"
    )]
    Shape,
}

impl Email {
    /// Parses an address as the module describes: spaces or tabs around it
    /// dropped, lowercased.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        if raw.len() > MAX_LENGTH {
            return Err(EmailError::Length);
        }
        if !ADDRESS.is_match(raw) {
            return Err(EmailError::Shape);
        }
        Ok(Self(raw.trim_matches([' ', '\t']).to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<String, EmailError> {
        Email::parse(raw).map(Email::into_string)
    }

    #[test]
    fn one_stored_form() {
        assert_eq!(
            parse(" Dana.Smith+vault@Example.COM\t").unwrap(),
            "dana.smith+vault@example.com"
        );
        assert_eq!(
            parse("dana@xn--bcher-kva.example").unwrap(),
            "dana@xn--bcher-kva.example"
        );
        assert_eq!(
            parse("owner@custodian.local").unwrap(),
            "owner@custodian.local"
        );
    }

    #[test]
    fn what_is_accepted_can_be_mailed() {
        for raw in [
            "dana@example.com",
            "o'brien+vault@example.com",
            "a.b-c_d@sub.example.co.uk",
            "dana@xn--bcher-kva.example",
            "x!#$%&*/=?^`{|}~@example.com",
        ] {
            let email = Email::parse(raw).unwrap();
            let address: Result<lettre::Address, _> = email.as_str().parse();
            assert!(address.is_ok(), "{raw} -> {email}");
        }
    }

    #[test]
    fn look_alikes_are_refused() {
        for raw in [
            "dana@example.com\u{200B}",
            "da\u{202E}na@example.com",
            "d\u{430}na@example.com",
            "dana@my\u{2011}msp.example",
            "ｄａｎａ@example.com",
            "dana@bücher.example",
        ] {
            assert_eq!(parse(raw), Err(EmailError::Shape), "{raw:?}");
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "dana",
            "@example.com",
            "dana@",
            "dana@@example.com",
            "da na@example.com",
            "\u{A0}dana@example.com",
            ".dana@example.com",
            "dana.@example.com",
            "da..na@example.com",
            "\"dana\"@example.com",
            "Dana <other@evil.example>",
            "dana@exa mple.com",
            "dana@-example.com",
            "dana@example-.com",
            "dana@example..com",
            "dana@exam_ple.com",
            "dana@example.com.",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("a@{}.example", "b".repeat(60).repeat(5));
        assert_eq!(parse(&long), Err(EmailError::Length));
        let label = format!("a@{}.example", "b".repeat(64));
        assert_eq!(parse(&label), Err(EmailError::Shape));
        assert_eq!(parse(&"x".repeat(1_000_000)), Err(EmailError::Length));
    }
}
