//! What text Souk accepts, in any field and any path segment: no control characters but tab
//! and line breaks. PostgreSQL cannot store NUL at all, and the others are invisible to the
//! people who read the text (or rewrite what a terminal shows).

use crate::Invalid;

/// Whether `c` may appear in text.
pub fn allowed(c: char) -> bool {
    !c.is_control() || matches!(c, '\t' | '\n' | '\r')
}

/// The first character of `text` that may not appear in it.
pub fn first_forbidden(text: &str) -> Option<char> {
    text.chars().find(|&c| !allowed(c))
}

/// `value` trimmed, refused unless it is `min` to `max` characters long.
pub fn trimmed_between(value: &str, field: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(Invalid::new("invalid_length", field, format!("{min} to {max} characters")));
    }
    Ok(v.to_string())
}

/// Refuses `text` (named `field`) when it holds a character that may not appear in it.
pub fn check(field: &str, text: &str) -> Result<(), Invalid> {
    match first_forbidden(text) {
        None => Ok(()),
        Some(c) => Err(Invalid::new(
            "invalid_text",
            field,
            format!(
                "text may not contain control characters (U+{:04X} found); only tab and line breaks are allowed",
                c as u32
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tab_and_line_breaks_are_text_and_other_controls_are_not() {
        assert!(check("t", "a\tb\r\nc\nd 漢字 é").is_ok());
        for bad in ["a\0b", "\u{1b}[31m", "x\u{7f}", "\u{85}", "\u{0c}"] {
            let e = check("title", bad).unwrap_err();
            assert_eq!((e.code, e.field.as_deref()), ("invalid_text", Some("title")), "{bad:?}");
        }
        assert!(check("t", "a\0").unwrap_err().message.contains("U+0000"));
    }

    proptest! {
        #[test]
        fn printable_text_is_always_allowed(s in "[^\\p{Cc}]*") {
            prop_assert!(check("t", &s).is_ok());
        }
    }
}
