//! What can stop a run, and the exit status each failure gives.

use std::io;
use std::path::PathBuf;

/// A failure that ends the run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// The command line is wrong; the message says how.
    #[error("{0} (see --help)")]
    Usage(String),

    /// No `--file`, no `MAESTRA_METRICS_PATH` and no `HOME` to find the
    /// default file under.
    #[error(
        "failed to find the metrics file: HOME is not set; \
         pass --file PATH or set MAESTRA_METRICS_PATH"
    )]
    NoDefaultPath,

    /// The metrics file could not be opened.
    #[error("failed to open {}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// Reading the input failed part way.
    #[error("failed to read {what}")]
    Read {
        /// The file, or "stdin".
        what: String,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// Standard output could not be written.
    #[error("failed to write the answer")]
    Write(#[source] io::Error),
}

impl StatsError {
    /// The process exit status for this failure: 2 for usage, 1 for the
    /// rest.
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::NoDefaultPath => 2,
            _ => 1,
        }
    }
}
