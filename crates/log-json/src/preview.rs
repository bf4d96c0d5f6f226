//! [`preview`]: a bounded excerpt of user text for a log field.

use std::borrow::Cow;

/// The mark ending a cut preview; it counts as one of the characters.
pub const ELLIPSIS: char = '…';

/// At most `max_chars` characters of `text`, cut on a character boundary.
///
/// A cut preview ends in `…`, which counts within `max_chars`, so the
/// result never has more than `max_chars` characters. Text that fits is
/// borrowed unchanged. Never panics, whatever the input.
///
/// ```
/// use log_json::preview;
///
/// assert_eq!(preview("short", 100), "short");
/// assert_eq!(preview("héllo wörld", 6), "héllo…");
/// assert_eq!(preview("anything", 0), "");
/// ```
pub fn preview(text: &str, max_chars: usize) -> Cow<'_, str> {
    // No more bytes than allowed characters: nothing to count.
    if text.len() <= max_chars {
        return Cow::Borrowed(text);
    }

    // Find the byte offset after `max_chars` characters, if there is one.
    let end = match text.char_indices().nth(max_chars) {
        None => return Cow::Borrowed(text),
        Some((offset, _)) => offset,
    };

    if max_chars == 0 {
        return Cow::Borrowed("");
    }

    // Keep one character fewer to make room for the mark.
    let keep =
        text[..end].char_indices().last().map_or(0, |(offset, _)| offset);
    let mut out = String::with_capacity(keep + ELLIPSIS.len_utf8());
    out.push_str(&text[..keep]);
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, ""),
            ("", 5, ""),
            ("abc", 3, "abc"),
            ("abcd", 3, "ab…"),
            ("abcd", 1, "…"),
            ("abcd", 0, ""),
            ("日本語のテキスト", 4, "日本語…"),
            ("émoji 🎉🎉🎉", 7, "émoji …"),
            ("🎉🎉", 2, "🎉🎉"),
        ];
        for &(text, max, want) in cases {
            assert_eq!(preview(text, max), want, "{text:?} {max}");
        }
    }

    #[test]
    fn never_exceeds_the_limit() {
        let text = "aé日🎉\n\u{0}".repeat(50);
        for max in 0..200 {
            let out = preview(&text, max);
            assert!(out.chars().count() <= max, "{max}");
        }
    }

    #[test]
    fn borrows_text_that_fits() {
        assert!(matches!(preview("fits", 10), Cow::Borrowed(_)));
    }
}
