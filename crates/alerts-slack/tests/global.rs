//! The process-wide alerter: installing one, then getting it back.

use std::time::Duration;

use alerts_slack::{
    get_slack_alerter, install_slack_alerter, Alert, Alerter, AlerterConfig,
    Enqueue, Severity, WebhookUrl,
};

#[test]
fn installed_alerter_is_the_one_returned() {
    // A loopback URL nobody answers: nothing here waits for delivery.
    let url = WebhookUrl::parse("http://127.0.0.1:9/services/T0/B0/X").unwrap();
    let alerter = Alerter::new(AlerterConfig::new(url).max_attempts(1));

    let installed = install_slack_alerter(alerter).expect("first install");
    assert!(std::ptr::eq(installed, get_slack_alerter()));
    assert!(get_slack_alerter().is_enabled());

    let again = install_slack_alerter(Alerter::disabled());
    assert!(again.is_err(), "a second install is refused");

    let alert = Alert::new(Severity::Info, "Queued", "");
    assert_eq!(get_slack_alerter().notify(alert), Enqueue::Queued);
    get_slack_alerter().shutdown(Duration::from_secs(2));
    let alert = Alert::new(Severity::Info, "Late", "");
    assert_eq!(get_slack_alerter().notify(alert), Enqueue::Dropped);
}
