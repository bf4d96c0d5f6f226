//! [`Level`]: the five level names of the log format.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A log level as written in the `level` field of every line.
///
/// The order is the severity order, so `Level::Warning > Level::Info`.
/// Parsing accepts the names case-insensitively, plus `WARN`:
///
/// ```
/// use log_json::Level;
///
/// assert_eq!("warn".parse::<Level>().unwrap(), Level::Warning);
/// assert_eq!(Level::Critical.as_str(), "CRITICAL");
/// assert!("verbose".parse::<Level>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Detailed debugging information (slog `Trace` and `Debug`).
    Debug,
    /// General informational messages.
    Info,
    /// Something unexpected that the service handled.
    Warning,
    /// A failure of one operation.
    Error,
    /// A failure of the whole service.
    Critical,
}

impl Level {
    /// The name written in the `level` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// The level of a slog record; `Trace` and `Debug` both become `Debug`.
    pub fn from_slog(level: slog::Level) -> Level {
        match level {
            slog::Level::Trace | slog::Level::Debug => Level::Debug,
            slog::Level::Info => Level::Info,
            slog::Level::Warning => Level::Warning,
            slog::Level::Error => Level::Error,
            slog::Level::Critical => Level::Critical,
        }
    }

    /// The least slog level let through when this is the configured level.
    ///
    /// `Debug` gives slog `Trace`, because trace records are written with
    /// the name `DEBUG` too and a `DEBUG` setting should show them all.
    pub fn to_slog_filter(self) -> slog::Level {
        match self {
            Level::Debug => slog::Level::Trace,
            Level::Info => slog::Level::Info,
            Level::Warning => slog::Level::Warning,
            Level::Error => slog::Level::Error,
            Level::Critical => slog::Level::Critical,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = Error;

    fn from_str(s: &str) -> Result<Level, Error> {
        let names = [
            ("DEBUG", Level::Debug),
            ("INFO", Level::Info),
            ("WARNING", Level::Warning),
            ("WARN", Level::Warning),
            ("ERROR", Level::Error),
            ("CRITICAL", Level::Critical),
        ];
        let trimmed = s.trim();
        names
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(trimmed))
            .map(|&(_, level)| level)
            .ok_or_else(|| Error::InvalidLevel(preview_name(s)))
    }
}

impl From<Level> for slog::Level {
    fn from(level: Level) -> slog::Level {
        level.to_slog_filter()
    }
}

/// Keeps an error message short when the input is garbage.
fn preview_name(s: &str) -> String {
    crate::preview(s, 32).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_case_insensitively() {
        let cases = [
            ("DEBUG", Level::Debug),
            ("debug", Level::Debug),
            ("Info", Level::Info),
            ("WARNING", Level::Warning),
            ("warn", Level::Warning),
            (" error ", Level::Error),
            ("critical", Level::Critical),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Level>().unwrap(), want, "{input}");
        }
    }

    #[test]
    fn rejects_unknown_names_with_a_clear_error() {
        for input in ["", "trace", "WARNINGS", "fatal", "5"] {
            let err = input.parse::<Level>().unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("failed to parse log level"), "{text}");
            assert!(text.contains("CRITICAL"), "{text}");
        }
    }

    #[test]
    fn maps_slog_levels_to_names() {
        let cases = [
            (slog::Level::Trace, "DEBUG"),
            (slog::Level::Debug, "DEBUG"),
            (slog::Level::Info, "INFO"),
            (slog::Level::Warning, "WARNING"),
            (slog::Level::Error, "ERROR"),
            (slog::Level::Critical, "CRITICAL"),
        ];
        for (level, name) in cases {
            assert_eq!(Level::from_slog(level).as_str(), name);
        }
    }

    #[test]
    fn filter_lets_through_the_level_and_above() {
        assert!(slog::Level::Trace.is_at_least(Level::Debug.into()));
        assert!(!slog::Level::Debug.is_at_least(Level::Info.into()));
        assert!(slog::Level::Critical.is_at_least(Level::Error.into()));
        assert!(!slog::Level::Error.is_at_least(Level::Critical.into()));
    }
}
