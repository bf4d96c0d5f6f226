//! Sends the observability note's manual alert to the webhook in
//! `MAESTRA_SLACK_WEBHOOK_URL`, and says what became of it.
//!
//! ```text
//! MAESTRA_SLACK_WEBHOOK_URL=https://hooks.slack.com/services/… \
//!     cargo run -p alerts-slack --example manual_alert
//! ```
//!
//! Without the variable, alerts are disabled and the program says so.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Duration;

use alerts_slack::{
    get_slack_alerter, install_slack_alerter, Alert, Alerter, Outcome, Severity,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Reading the environment ourselves reports a bad value, which
    // `get_slack_alerter` alone would turn into a disabled alerter.
    let alerter = match Alerter::from_env() {
        Ok(alerter) => alerter,
        Err(err) => {
            eprintln!("manual_alert: {err}");
            return ExitCode::from(2);
        }
    };
    if install_slack_alerter(alerter).is_err() {
        eprintln!("manual_alert: a process-wide alerter already existed");
    }

    let alerter = get_slack_alerter();
    let _drain = alerter.drain_guard(Duration::from_secs(5));
    match alerter.webhook() {
        Some(url) => println!("sending to {url}"),
        None => println!(
            "alerts are disabled: MAESTRA_SLACK_WEBHOOK_URL is not set"
        ),
    }

    let severity: Severity = "warning".parse().expect("a known severity");
    let alert =
        Alert::new(severity, "Manual Alert", "Something important happened")
            .field("user_id", "justinharmon")
            .field("conversation_id", "conv_123");
    println!("text:\n{}", alert.text());

    match alerter.alert(alert).await {
        Outcome::Sent => println!("sent"),
        Outcome::Disabled => println!("not sent (alerts disabled)"),
        Outcome::Failed(err) => {
            eprintln!("manual_alert: {err}");
            return ExitCode::FAILURE;
        }
        other => println!("not sent: {other:?}"),
    }
    ExitCode::SUCCESS
}
