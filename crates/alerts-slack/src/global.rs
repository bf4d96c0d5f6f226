//! The process-wide alerter: [`get_slack_alerter`] and
//! [`install_slack_alerter`].

use std::sync::OnceLock;

use crate::alerter::Alerter;

static GLOBAL: OnceLock<Alerter> = OnceLock::new();

/// The process-wide alerter, made on first use from the environment
/// (`MAESTRA_SLACK_WEBHOOK_URL`, `MAESTRA_ALERT_COOLDOWN_S`) unless one was
/// installed first with [`install_slack_alerter`].
///
/// An unusable environment gives a disabled alerter here, since this
/// function cannot fail; a program that wants to report that error calls
/// [`Alerter::from_env`] itself at start-up and installs the result.
///
/// The alerter lives in a `static` and is never dropped: shut it down (or
/// hold its [`drain_guard`](Alerter::drain_guard)) before the process
/// exits, or queued alerts are lost.
pub fn get_slack_alerter() -> &'static Alerter {
    GLOBAL.get_or_init(|| {
        Alerter::from_env().unwrap_or_else(|_| Alerter::disabled())
    })
}

/// Makes `alerter` the process-wide one.
///
/// # Errors
///
/// Gives `alerter` back when a process-wide alerter already exists
/// (installed, or made by an earlier [`get_slack_alerter`]).
pub fn install_slack_alerter(
    alerter: Alerter,
) -> Result<&'static Alerter, Alerter> {
    let mut offered = Some(alerter);
    let installed =
        GLOBAL.get_or_init(|| offered.take().unwrap_or_else(Alerter::disabled));
    match offered {
        None => Ok(installed),
        Some(alerter) => Err(alerter),
    }
}
