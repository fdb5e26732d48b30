//! Text that ends up in reports and on screens (titles, names): no control
//! characters and no bidirectional overrides, which would let a caller
//! rewrite how a report line reads (U+202E turns "exe.doc" around) or inject
//! terminal escapes and extra lines.

use crate::FieldError;

/// Unicode's explicit bidirectional formatting characters: embeddings and
/// overrides (U+202A–U+202E), isolates (U+2066–U+2069), and the marks
/// (U+200E, U+200F, U+061C).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// What is wrong with `c` in a single line of display text, if anything.
fn refusal(c: char) -> Option<&'static str> {
    if c.is_control() {
        Some("a control character")
    } else if is_bidi_control(c) {
        Some("a bidirectional formatting character")
    } else if matches!(c, '\u{2028}' | '\u{2029}') {
        Some("a line or paragraph separator")
    } else {
        None
    }
}

/// Refuses a single line of display text (a title, a name) containing
/// control characters (newlines and ESC included), line separators or
/// bidirectional formatting characters; the error names the field and the
/// first offending character, and says the text was refused, not cleaned.
pub fn check_line(field: &str, text: &str) -> Result<(), FieldError> {
    match text.chars().find_map(|c| refusal(c).map(|what| (c, what))) {
        None => Ok(()),
        Some((c, what)) => Err(FieldError::new(
            field,
            format!(
                "contains {what} (U+{:04X}); such characters are refused, not removed",
                u32::from(c)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_passes() {
        for text in [
            "Báo cáo quý 3",
            "Kế hoạch – 2024 (đợt 1)",
            "年度",
            "a\u{00A0}b",
            "",
        ] {
            check_line("title", text).unwrap();
        }
    }

    #[test]
    fn controls_separators_and_bidi_are_refused_naming_the_character() {
        for (text, code) in [
            ("a\u{1b}[31mred", "U+001B"),
            ("two\nlines", "U+000A"),
            ("tab\there", "U+0009"),
            ("cod.\u{202E}exe", "U+202E"),
            ("iso\u{2066}late", "U+2066"),
            ("line\u{2028}sep", "U+2028"),
            ("nul\0", "U+0000"),
            ("del\u{7f}", "U+007F"),
            ("c1\u{85}", "U+0085"),
        ] {
            let error = check_line("task.title", text).unwrap_err();
            assert_eq!(error.field, "task.title");
            assert!(error.message.contains(code), "{text:?}: {}", error.message);
            assert!(error.message.contains("refused"), "{}", error.message);
        }
    }
}
