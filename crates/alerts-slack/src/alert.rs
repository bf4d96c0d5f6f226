//! [`Alert`]: one message, and the text and payload Slack receives.

use crate::severity::Severity;

/// The most characters of `text` Slack accepts in one message; longer
/// text is cut on a character boundary and ends with `…`.
pub const MAX_TEXT_CHARS: usize = 40_000;

/// One alert: a title, a message and ordered `key: value` fields.
///
/// The text Slack shows is laid out as
///
/// ```text
/// 🔴 Maestra Backend Error
/// Request failed with status 502
/// surface_id: windsurf
/// ```
///
/// that is the icon (the severity's emoji unless [`Alert::icon`] replaced
/// it), a space and the title; then the message, left out when empty; then
/// one line per field, in the order they were added.
///
/// ```
/// use alerts_slack::{Alert, Severity};
///
/// let alert = Alert::new(Severity::Warning, "Rate Limit Exceeded", "")
///     .field("IP", "127.0.0.1")
///     .field("Window", "60s");
/// assert_eq!(
///     alert.text(),
///     "🟠 Rate Limit Exceeded\nIP: 127.0.0.1\nWindow: 60s",
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    severity: Severity,
    icon: Option<String>,
    title: String,
    message: String,
    fields: Vec<(String, String)>,
    fold_key: Option<String>,
}

impl Alert {
    /// An alert of `severity` with a title and a message (may be empty).
    pub fn new(
        severity: Severity,
        title: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Alert {
            severity,
            icon: None,
            title: title.into(),
            message: message.into(),
            fields: Vec::new(),
            fold_key: None,
        }
    }

    /// An info alert titled `Resolved: {title}` opening with ✅, sent when
    /// a condition announced earlier has cleared.
    pub fn resolved(
        title: impl AsRef<str>,
        message: impl Into<String>,
    ) -> Self {
        let title = format!("Resolved: {}", title.as_ref());
        Alert::new(Severity::Info, title, message).icon("✅")
    }

    /// Appends a `key: value` line; fields keep the order they were added.
    pub fn field(
        mut self,
        key: impl Into<String>,
        value: impl ToString,
    ) -> Self {
        self.fields.push((key.into(), value.to_string()));
        self
    }

    /// Replaces the severity's emoji on the first line, as in
    /// `🟢 Maestra Backend Started` or `⚪ Maestra Backend Stopping`.
    /// The attachment colour still follows the severity.
    pub fn icon(mut self, icon: impl Into<String>) -> Self {
        self.icon = Some(icon.into());
        self
    }

    /// Sets the key under which repeats are folded (see the crate docs).
    /// Without one the key is the severity and the title.
    pub fn fold_key(mut self, key: impl Into<String>) -> Self {
        self.fold_key = Some(key.into());
        self
    }

    /// The severity.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// The title, without its icon.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The message line (may be empty).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// The icon opening the first line: the override or the severity's
    /// emoji.
    pub fn icon_str(&self) -> &str {
        self.icon.as_deref().unwrap_or(self.severity.emoji())
    }

    /// The key repeats are folded under: the one set with
    /// [`Alert::fold_key`], or `{severity}:{title}`.
    pub fn effective_fold_key(&self) -> String {
        match &self.fold_key {
            Some(key) => key.clone(),
            None => format!("{}:{}", self.severity, self.title),
        }
    }

    /// The message text as Slack will show it, cut to [`MAX_TEXT_CHARS`].
    pub fn text(&self) -> String {
        self.text_with_folded(0, 0)
    }

    /// The text, with a last line counting `folded` repeats folded in the
    /// `cooldown_s` seconds after the previous delivered one.
    pub(crate) fn text_with_folded(
        &self,
        folded: u64,
        cooldown_s: u64,
    ) -> String {
        let mut text = format!("{} {}", self.icon_str(), self.title);

        if !self.message.is_empty() {
            text.push('\n');
            text.push_str(&self.message);
        }

        for (key, value) in &self.fields {
            text.push('\n');
            text.push_str(key);
            text.push_str(": ");
            text.push_str(value);
        }

        if folded > 0 {
            let noun = if folded == 1 { "alert" } else { "alerts" };
            text.push_str(&format!(
                "\n({folded} similar {noun} folded in the {cooldown_s} s \
                 after the previous one)"
            ));
        }

        truncate_chars(text, MAX_TEXT_CHARS)
    }

    /// The JSON body posted to the webhook: the text, and an attachment
    /// carrying the severity colour (and the first line as its fallback).
    pub(crate) fn payload(&self, text: &str) -> String {
        let first_line = text.lines().next().unwrap_or_default();
        serde_json::json!({
            "text": text,
            "attachments": [{
                "color": self.severity.color(),
                "fallback": first_line,
            }],
        })
        .to_string()
    }
}

/// Cuts `text` to at most `max` characters, the last being `…` when cut.
fn truncate_chars(mut text: String, max: usize) -> String {
    if max == 0 {
        return String::new();
    }

    // Only walk the characters when the byte length says it may be needed.
    if text.len() <= max {
        return text;
    }
    if let Some((cut, _)) = text.char_indices().nth(max - 1) {
        if text[cut..].chars().nth(1).is_some() {
            text.truncate(cut);
            text.push('…');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_follows_the_spec_layout() {
        let cases = [
            (
                Alert::new(
                    Severity::Error,
                    "Maestra Backend Error",
                    "Request failed with status 502",
                )
                .field("surface_id", "windsurf")
                .field("user_id", "justinharmon")
                .field("error", "upstream_error"),
                "🔴 Maestra Backend Error\nRequest failed with status 502\n\
                 surface_id: windsurf\nuser_id: justinharmon\n\
                 error: upstream_error",
            ),
            (
                Alert::new(Severity::Warning, "Rate Limit Exceeded", "")
                    .field("IP", "127.0.0.1")
                    .field("Requests", "101/100")
                    .field("Window", "60s"),
                "🟠 Rate Limit Exceeded\nIP: 127.0.0.1\nRequests: 101/100\n\
                 Window: 60s",
            ),
            (
                Alert::new(Severity::Warning, "Daily Cost Limit Exceeded", "")
                    .field("Daily cost", "$5.50")
                    .field("Limit", "$5.00")
                    .field("Requests", 234),
                "🟠 Daily Cost Limit Exceeded\nDaily cost: $5.50\n\
                 Limit: $5.00\nRequests: 234",
            ),
            (
                Alert::new(Severity::Info, "Maestra Backend Started", "")
                    .icon("🟢")
                    .field("version", "0.1.0"),
                "🟢 Maestra Backend Started\nversion: 0.1.0",
            ),
            (
                Alert::resolved("High Error Rate", "Error rate 1.0%"),
                "✅ Resolved: High Error Rate\nError rate 1.0%",
            ),
            (Alert::new(Severity::Critical, "Down", ""), "🚨 Down"),
        ];
        for (alert, want) in cases {
            assert_eq!(alert.text(), want);
        }
    }

    #[test]
    fn folded_line_counts_repeats() {
        let alert = Alert::new(Severity::Error, "Boom", "m");
        let cases = [
            (0, "🔴 Boom\nm"),
            (
                1,
                "🔴 Boom\nm\n(1 similar alert folded in the 300 s after the \
                 previous one)",
            ),
            (
                3,
                "🔴 Boom\nm\n(3 similar alerts folded in the 300 s after the \
                 previous one)",
            ),
        ];
        for (folded, want) in cases {
            assert_eq!(alert.text_with_folded(folded, 300), want);
        }
    }

    #[test]
    fn fold_key_defaults_to_severity_and_title() {
        let plain = Alert::new(Severity::Error, "Boom", "a");
        assert_eq!(plain.effective_fold_key(), "error:Boom");
        let keyed = plain.fold_key("boom-1");
        assert_eq!(keyed.effective_fold_key(), "boom-1");
    }

    #[test]
    fn payload_has_text_and_colour() {
        let alert = Alert::new(Severity::Warning, "T", "m \"quoted\"");
        let text = alert.text();
        let value: serde_json::Value =
            serde_json::from_str(&alert.payload(&text)).unwrap();
        assert_eq!(value["text"], "🟠 T\nm \"quoted\"");
        assert_eq!(value["attachments"][0]["color"], Severity::Warning.color());
        assert_eq!(value["attachments"][0]["fallback"], "🟠 T");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let cases = [
            ("abc".to_owned(), 3, "abc"),
            ("abcd".to_owned(), 3, "ab…"),
            ("ééé".to_owned(), 3, "ééé"),
            ("éééé".to_owned(), 3, "éé…"),
            ("🔴🔴🔴🔴🔴".to_owned(), 2, "🔴…"),
            ("x".to_owned(), 0, ""),
        ];
        for (input, max, want) in cases {
            assert_eq!(truncate_chars(input, max), want);
        }

        let long = Alert::new(Severity::Info, "T", "é".repeat(50_000));
        let text = long.text();
        assert_eq!(text.chars().count(), MAX_TEXT_CHARS);
        assert!(text.ends_with('…'));
    }
}
