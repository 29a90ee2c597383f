//! An email address as Custodian keeps it: the sign-in name of admins and
//! users, unique per partner, and where the runbook's emails go.
//!
//! Two addresses that look alike must either be the same stored text or
//! visibly differ, or one person could be two users. So an address is
//! stored in one ASCII form:
//! - surrounding whitespace is trimmed and the text put in Unicode NFKC
//!   (a fullwidth `ａ` is `a`);
//! - invisible characters (zero-width space, bidirectional overrides,
//!   control characters) are refused, as is any whitespace;
//! - the local part is ASCII `dot-atom` (RFC 5322: letters, digits and
//!   ``!#$%&'*+-/=?^_`{|}~``, dots between them), at most 64 bytes: a
//!   Cyrillic `а` that passes for a Latin `a` is refused, and so is a quoted
//!   local part or `Name <other@address>`;
//! - the domain goes through IDNA (UTS 46, strict): an internationalized
//!   domain is kept as its ASCII `xn--` form, which shows plainly that it
//!   is not its Latin look-alike (a Cyrillic `а`, a non-breaking hyphen
//!   U+2011), and a character IDNA disallows is refused;
//! - the whole is lowercased and at most 254 bytes (RFC 5321's path).

use icu_normalizer::ComposingNormalizerBorrowed;

use super::text::is_invisible;

/// The longest address (RFC 5321: a 256-byte path less its brackets).
pub const MAX_LENGTH: usize = 254;
/// The longest local part (RFC 5321).
pub const MAX_LOCAL_LENGTH: usize = 64;

/// A valid address, in its one stored form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why an address is refused, for a 422's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("must be an email address (name@domain.example)")]
    Shape,
    #[error("must be at most 254 bytes, with a local part of at most 64")]
    Length,
    #[error("must not contain whitespace or invisible characters")]
    Invisible,
    #[error(
        "must have an ASCII local part: letters, digits, dots and !#$%&'*+-/=?^_`{{|}}~ (before the @)"
    )]
    LocalPart,
    #[error("must have a valid domain (after the @)")]
    Domain,
}

/// The characters of an RFC 5322 `atext`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

impl Email {
    /// Parses and normalizes an address as the module describes.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        // Bound the work before normalizing (NFKC may grow a text).
        if raw.len() > 4 * MAX_LENGTH {
            return Err(EmailError::Length);
        }
        let text = ComposingNormalizerBorrowed::new_nfkc().normalize(raw.trim());
        if text.chars().any(|c| c.is_whitespace() || is_invisible(c)) {
            return Err(EmailError::Invisible);
        }
        let (local, domain) = text.rsplit_once('@').ok_or(EmailError::Shape)?;
        if local.is_empty() || domain.is_empty() {
            return Err(EmailError::Shape);
        }
        if local.len() > MAX_LOCAL_LENGTH {
            return Err(EmailError::Length);
        }
        let atoms_ok = local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext));
        if !atoms_ok {
            return Err(EmailError::LocalPart);
        }
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| EmailError::Domain)?;
        if domain.is_empty() || domain.starts_with('.') || domain.ends_with('.') {
            return Err(EmailError::Domain);
        }
        let email = format!("{}@{domain}", local.to_ascii_lowercase());
        if email.len() > MAX_LENGTH {
            return Err(EmailError::Length);
        }
        Ok(Self(email))
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
            parse("  Dana.Smith+vault@Example.COM ").unwrap(),
            "dana.smith+vault@example.com"
        );
        // Fullwidth letters are their ASCII selves.
        assert_eq!(parse("ｄａｎａ@example.com").unwrap(), "dana@example.com");
        // An internationalized domain is kept in its ASCII form.
        assert_eq!(
            parse("dana@bücher.example").unwrap(),
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
            "dana@bücher.example",
            "x!#$%&*/=?^`{|}~@example.com",
        ] {
            let email = Email::parse(raw).unwrap();
            let address: Result<lettre::Address, _> = email.as_str().parse();
            assert!(address.is_ok(), "{raw} -> {email}");
        }
    }

    #[test]
    fn look_alikes_are_refused_or_visibly_different() {
        assert_eq!(
            parse("dana@example.com\u{200B}"),
            Err(EmailError::Invisible)
        );
        assert_eq!(
            parse("da\u{202E}na@example.com"),
            Err(EmailError::Invisible)
        );
        // A Cyrillic "а" in the local part.
        assert_eq!(parse("d\u{430}na@example.com"), Err(EmailError::LocalPart));
        // A non-breaking hyphen in the domain: another domain, and it shows.
        let hyphen = parse("dana@my\u{2011}msp.example").unwrap();
        assert!(hyphen.contains("xn--"), "{hyphen}");
        assert_ne!(hyphen, "dana@my-msp.example");
        // A Cyrillic "а" in the domain: another domain, and it shows.
        let cyrillic = parse("dana@ex\u{430}mple.com").unwrap();
        assert!(cyrillic.contains("xn--"), "{cyrillic}");
        assert_ne!(cyrillic, "dana@example.com");
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
            ".dana@example.com",
            "dana.@example.com",
            "da..na@example.com",
            "\"dana\"@example.com",
            "Dana <other@evil.example>",
            "dana@exa mple.com",
            "dana@-example.com",
            "dana@example..com",
            "dana@exam_ple.com",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(parse(&long_local), Err(EmailError::Length));
        let long = format!("a@{}.example", "b".repeat(60).repeat(5));
        assert!(parse(&long).is_err());
        assert_eq!(
            parse(&"x".repeat(1_000_000)),
            Err(EmailError::Length),
            "bounded before any work"
        );
    }
}
