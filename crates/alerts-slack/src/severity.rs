//! [`Severity`]: how urgent an alert is, with its emoji and colour.

use std::fmt;
use std::str::FromStr;

/// How urgent an alert is.
///
/// The severity picks the emoji that opens the message text and the colour
/// of the attachment bar. Ordered from least to most urgent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Something worth knowing: 🔵, blue.
    Info,
    /// Something may need attention soon: 🟠, orange.
    Warning,
    /// Something failed: 🔴, red.
    Error,
    /// The service is in danger: 🚨, dark red.
    Critical,
}

impl Severity {
    /// Every severity, least urgent first.
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ];

    /// The emoji that opens the first line of the message.
    pub fn emoji(self) -> &'static str {
        match self {
            Severity::Info => "🔵",
            Severity::Warning => "🟠",
            Severity::Error => "🔴",
            Severity::Critical => "🚨",
        }
    }

    /// The attachment colour, as the `#rrggbb` hex Slack accepts.
    pub fn color(self) -> &'static str {
        match self {
            Severity::Info => "#2f80ed",
            Severity::Warning => "#f2994a",
            Severity::Error => "#eb5757",
            Severity::Critical => "#9b1c1c",
        }
    }

    /// The lowercase name, as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text given to [`Severity::from_str`] names no severity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "failed to parse severity {input:?}: expected info, warning, error or \
     critical"
)]
pub struct ParseSeverityError {
    input: String,
}

impl FromStr for Severity {
    type Err = ParseSeverityError;

    /// Parses `info`, `warning`, `error` or `critical`, ignoring ASCII
    /// case and surrounding spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ParseSeverityError { input: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_rejects_others() {
        let cases = [
            ("info", Some(Severity::Info)),
            ("warning", Some(Severity::Warning)),
            ("error", Some(Severity::Error)),
            ("critical", Some(Severity::Critical)),
            (" Warning ", Some(Severity::Warning)),
            ("CRITICAL", Some(Severity::Critical)),
            ("warn", None),
            ("", None),
            ("fatal", None),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Severity>().ok(), want, "{input:?}");
        }
    }

    #[test]
    fn error_names_the_input_and_the_choices() {
        let err = "warn".parse::<Severity>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"warn\""), "{text}");
        assert!(text.contains("critical"), "{text}");
    }

    #[test]
    fn emoji_and_names_match_the_spec() {
        let cases = [
            (Severity::Info, "🔵", "info"),
            (Severity::Warning, "🟠", "warning"),
            (Severity::Error, "🔴", "error"),
            (Severity::Critical, "🚨", "critical"),
        ];
        for (sev, emoji, name) in cases {
            assert_eq!(sev.emoji(), emoji);
            assert_eq!(sev.to_string(), name);
            assert!(sev.color().starts_with('#') && sev.color().len() == 7);
        }
    }
}
