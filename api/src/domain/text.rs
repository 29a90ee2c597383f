//! Text a person typed that other people will read: names of partners,
//! companies, admins, users and API clients, a reset's reason and ticket.
//! Such text reaches emails, the portal and audit events, so it must be one
//! line of visible characters.
//!
//! The rule: surrounding whitespace is trimmed, the rest is put in Unicode
//! NFC (one spelling for one text), and a character of the categories
//! Other (control characters such as CR and LF, format characters such as
//! the bidirectional overrides U+202E and the zero-width space U+200B,
//! private use, unassigned code points) or a line or paragraph separator is
//! refused, except the zero-width joiner and non-joiner (U+200D, U+200C),
//! which Persian and Indic names and emoji sequences need and which move no
//! text around. Length is counted in characters after normalization.

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::CodePointMapData;
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};

/// Why a text is refused, for a 422's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be {min} to {max} characters")]
    Length { min: usize, max: usize },
    #[error(
        "must be one line of visible characters (no control, format or bidirectional-override characters)"
    )]
    Invisible,
}

/// Whether `c` is a character no one sees, or one that breaks a line or
/// reorders what follows it.
pub fn is_invisible(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    let refused = GeneralCategoryGroup::Other
        .union(GeneralCategoryGroup::LineSeparator)
        .union(GeneralCategoryGroup::ParagraphSeparator);
    refused.contains(category)
}

/// One line of `min` to `max` visible characters, normalized (NFC).
pub fn line(raw: &str, min: usize, max: usize) -> Result<String, TextError> {
    let text = ComposingNormalizerBorrowed::new_nfc().normalize(raw.trim());
    let joiner = |c: char| matches!(c, '\u{200C}' | '\u{200D}');
    if text.chars().any(|c| is_invisible(c) && !joiner(c)) {
        return Err(TextError::Invisible);
    }
    let length = text.chars().count();
    if !(min..=max).contains(&length) {
        return Err(TextError::Length { min, max });
    }
    Ok(text.into_owned())
}

/// A name: one line of 1 to 200 visible characters.
pub fn name(raw: &str) -> Result<String, TextError> {
    line(raw, 1, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_visible_line() {
        assert_eq!(name("  Dana Smith ").unwrap(), "Dana Smith");
        assert_eq!(name("Zoë Ångström 山田").unwrap(), "Zoë Ångström 山田");
        // Joiners that scripts and emoji need.
        assert!(name("\u{645}\u{6cc}\u{200C}\u{62e}\u{648}\u{627}\u{647}\u{645}").is_ok());
        assert!(name("Dev \u{1F469}\u{200D}\u{1F4BB}").is_ok());
        for bad in [
            "Dana\r\n\r\nIMPORTANT: call +1-555-0100",
            "Dana\u{202E}lanimreT",
            "Da\u{200B}na",
            "Dana\u{2028}Smith",
            "Dana\u{E000}",
            "Dana\u{0007}",
            "Dana\u{2066}x\u{2069}",
            "Dana\u{FEFF}",
        ] {
            assert_eq!(name(bad), Err(TextError::Invisible), "{bad:?}");
        }
        assert!(matches!(name("   "), Err(TextError::Length { .. })));
        assert!(matches!(
            name(&"x".repeat(201)),
            Err(TextError::Length { .. })
        ));
        assert!(name(&"é".repeat(200)).is_ok());
    }

    #[test]
    fn one_text_has_one_spelling() {
        // "é" as one code point and as "e" with a combining accent.
        assert_eq!(name("Ren\u{e9}").unwrap(), name("Rene\u{301}").unwrap());
    }
}
