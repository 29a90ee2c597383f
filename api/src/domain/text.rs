//! Text a person typed that other people will read: names of partners,
//! companies, admins, users and API clients, a reset's reason and ticket, a
//! search. Such text reaches emails, the portal and audit events, so it must
//! be one line of visible characters.
//!
//! The rule is a regular expression, the same one the contract publishes as
//! each field's `pattern`, so what a client's schema validator accepts is
//! exactly what the server accepts. It refuses the characters of the
//! Unicode categories Cc (control characters such as CR and LF), Cf
//! (format characters: the bidirectional overrides and isolates such as
//! U+202E, the zero-width space U+200B, the tag characters U+E0000–E007F
//! that can smuggle hidden text) and Zl, Zp (line and paragraph
//! separators), as of Unicode 15, listed below; it keeps the zero-width
//! joiner and non-joiner (U+200D, U+200C), which Persian and Indic names and
//! emoji sequences need. A name has at least one character that is neither
//! refused nor a space. Lengths are counted in characters as sent; the value
//! kept is trimmed of surrounding spaces and put in Unicode NFC (one
//! spelling for one text).
//!
//! The pattern is written so that Rust's `regex`, Python's `re` and
//! ECMAScript's (in Unicode mode) read it alike: `\uHHHH` escapes for the
//! Basic Multilingual Plane, the characters themselves, one by one, beyond
//! it.

use std::sync::LazyLock;

use icu_normalizer::ComposingNormalizerBorrowed;

/// The refused characters of the Basic Multilingual Plane, as `\uHHHH`
/// escapes for the inside of a regex character class.
const INVISIBLE_BMP: &str = concat!(
    r"\u0000-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F",
    r"\u0890-\u0891\u08E2\u180E\u200B\u200E-\u200F\u2028-\u202E",
    r"\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB",
);

/// The refused characters beyond it, as ranges of code points.
const INVISIBLE_ASTRAL: &[(u32, u32)] = &[
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// The refused characters, as the inside of a regex character class. Those
/// beyond the Basic Multilingual Plane are listed one by one, never as a
/// range: an engine reading the pattern without Unicode mode (as some
/// schema linters do) sees each as a pair of surrogates, and a range of
/// pairs would not even compile there.
pub static INVISIBLE: LazyLock<String> = LazyLock::new(|| {
    let astral: String = INVISIBLE_ASTRAL
        .iter()
        .flat_map(|&(first, last)| first..=last)
        .filter_map(char::from_u32)
        .collect();
    format!("{INVISIBLE_BMP}{astral}")
});

/// The spaces that are not refused (the rest of White_Space is Cc, Zl or
/// Zp), as the inside of a character class.
const SPACES: &str = r" \u00A0\u1680\u2000-\u200A\u202F\u205F\u3000";

/// One line of visible characters with at least one that is not a space.
pub static NAME_PATTERN: LazyLock<String> = LazyLock::new(|| {
    let invisible = INVISIBLE.as_str();
    format!("^[^{invisible}]*[^{invisible}{SPACES}][^{invisible}]*$")
});

/// One line of visible characters, possibly empty.
pub static LINE_PATTERN: LazyLock<String> =
    LazyLock::new(|| format!("^[^{}]*$", INVISIBLE.as_str()));

static NAME: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(&NAME_PATTERN).expect("the name pattern compiles"));
static LINE: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(&LINE_PATTERN).expect("the line pattern compiles"));

/// The longest name, in characters.
pub const NAME_MAX: usize = 200;

/// Why a text is refused, for a 422's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error(
        "must be one line of visible characters (no control, format or bidirectional-override characters)"
    )]
    Invisible,
    #[error("must hold a character that is not a space")]
    Blank,
}

/// Whether `c` is one of the refused characters.
pub fn is_invisible(c: char) -> bool {
    let mut buffer = [0u8; 4];
    !LINE.is_match(c.encode_utf8(&mut buffer))
}

fn kept(raw: &str) -> String {
    ComposingNormalizerBorrowed::new_nfc()
        .normalize(raw.trim())
        .into_owned()
}

/// A name: one line of 1 to `max` characters, at least one of them visible
/// and not a space; trimmed and normalized (NFC).
pub fn name_of(raw: &str, max: usize) -> Result<String, TextError> {
    if raw.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    if NAME.is_match(raw) {
        return Ok(kept(raw));
    }
    Err(if LINE.is_match(raw) {
        TextError::Blank
    } else {
        TextError::Invisible
    })
}

/// A name of at most [`NAME_MAX`] characters.
pub fn name(raw: &str) -> Result<String, TextError> {
    name_of(raw, NAME_MAX)
}

/// One line of at most `max` characters, possibly empty; trimmed and
/// normalized (NFC).
pub fn line(raw: &str, max: usize) -> Result<String, TextError> {
    if raw.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    if !LINE.is_match(raw) {
        return Err(TextError::Invisible);
    }
    Ok(kept(raw))
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
            "Dana\u{0007}",
            "Dana\u{2066}x\u{2069}",
            "Dana\u{FEFF}",
            "Dana\u{E0041}\u{E0042}",
            "Dana\u{0000}",
        ] {
            assert_eq!(name(bad), Err(TextError::Invisible), "{bad:?}");
        }
        assert_eq!(name("   "), Err(TextError::Blank));
        assert_eq!(name("\u{3000}"), Err(TextError::Blank));
        assert_eq!(name(""), Err(TextError::Blank));
        assert_eq!(name(&"x".repeat(201)), Err(TextError::TooLong { max: 200 }));
        assert!(name(&"é".repeat(200)).is_ok());
        // Private use and unassigned code points are not refused.
        assert!(name("Dana\u{E000}").is_ok());
    }

    #[test]
    fn one_text_has_one_spelling() {
        // "é" as one code point and as "e" with a combining accent.
        assert_eq!(name("Ren\u{e9}").unwrap(), name("Rene\u{301}").unwrap());
    }

    #[test]
    fn lines_may_be_empty() {
        assert_eq!(line("", 10).unwrap(), "");
        assert_eq!(line(" T-1 ", 10).unwrap(), "T-1");
        assert_eq!(line("T-1\r\nBcc: x", 100), Err(TextError::Invisible));
        assert!(matches!(
            line(&"x".repeat(11), 10),
            Err(TextError::TooLong { .. })
        ));
    }

    /// The refused set is every Cc, Cf, Zl and Zp character the Unicode
    /// data this build carries knows (but the two joiners), so the list
    /// above cannot fall behind unnoticed.
    #[test]
    fn the_list_is_the_categories() {
        use icu_properties::CodePointMapData;
        use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
        let refused = GeneralCategoryGroup::Control
            .union(GeneralCategoryGroup::Format)
            .union(GeneralCategoryGroup::LineSeparator)
            .union(GeneralCategoryGroup::ParagraphSeparator);
        let data = CodePointMapData::<GeneralCategory>::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let expected = refused.contains(data.get(c)) && !matches!(c, '\u{200C}' | '\u{200D}');
            assert_eq!(is_invisible(c), expected, "U+{:04X}", c as u32);
        }
    }
}
