//! `maestra-backend`: the Maestra chat backend with request metrics, JSON
//! logs and Slack alerts. `maestra-backend --help` lists its settings.

use std::process::ExitCode;

fn main() -> ExitCode {
    maestra_backend::run_cli()
}
