//! Where the per-request metrics file lives by default.

use std::path::{Path, PathBuf};

/// The metrics file used when `MAESTRA_METRICS_PATH` is not set:
/// `$HOME/.8825/maestra_metrics.jsonl`.
///
/// Returns `None` when `HOME` is unset or empty, so the caller can ask for
/// an explicit path instead of writing somewhere surprising.
pub fn default_metrics_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(metrics_path_under(Path::new(&home)))
}

/// The default metrics file for the home folder `home`:
/// `home/.8825/maestra_metrics.jsonl`.
///
/// ```
/// use std::path::Path;
///
/// let path = metrics_core::metrics_path_under(Path::new("/home/jh"));
/// assert_eq!(path, Path::new("/home/jh/.8825/maestra_metrics.jsonl"));
/// ```
pub fn metrics_path_under(home: &Path) -> PathBuf {
    home.join(".8825").join("maestra_metrics.jsonl")
}
