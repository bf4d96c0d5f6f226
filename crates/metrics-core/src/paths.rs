//! Where the per-request metrics file lives by default.

use std::path::PathBuf;

/// The metrics file used when `MAESTRA_METRICS_PATH` is not set:
/// `$HOME/.8825/maestra_metrics.jsonl`.
///
/// Returns `None` when `HOME` is unset or empty, so the caller can ask for
/// an explicit path instead of writing somewhere surprising.
pub fn default_metrics_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".8825").join("maestra_metrics.jsonl"))
}
