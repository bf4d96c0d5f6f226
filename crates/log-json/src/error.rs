//! The error type of this crate.

use std::io;
use std::path::PathBuf;

/// Why a logger could not be built or a level name was not understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The log folder could not be created.
    #[error("failed to create log folder {path}")]
    CreateDir {
        /// The folder that could not be created.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A log file could not be opened for appending.
    #[error("failed to open log file {path}")]
    Open {
        /// The file that could not be opened.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The writer thread could not be started.
    #[error("failed to start the log writer thread")]
    Spawn(#[source] io::Error),

    /// A configuration value is out of its range.
    #[error("invalid log configuration: {0}")]
    InvalidConfig(&'static str),

    /// A level name is none of `DEBUG`, `INFO`, `WARNING` (or `WARN`),
    /// `ERROR`, `CRITICAL`.
    #[error(
        "failed to parse log level {0:?}: expected DEBUG, INFO, WARNING, \
         ERROR or CRITICAL"
    )]
    InvalidLevel(String),
}
