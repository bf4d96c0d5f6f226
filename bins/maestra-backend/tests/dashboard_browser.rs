//! Runs the dashboard's browser test (`tests/browser`) against this
//! build of the server: headless Chromium driven by playwright-core.
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci --prefix tests/browser`;
//! `.ci/run` installs them. Under `CI=true` a missing piece fails the
//! test; elsewhere it is skipped with a note.

#![allow(clippy::print_stderr)]

use std::path::Path;
use std::process::Command;

#[test]
fn dashboard_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let browser = root.join("tests/browser");
    let chromium = std::env::var("CHROMIUM_PATH")
        .unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = Command::new("node").arg("--version").output().is_ok();
    let missing = [
        (!node).then_some("node"),
        (!Path::new(&chromium).exists()).then_some("chromium"),
        (!browser.join("node_modules/playwright-core").exists())
            .then_some("tests/browser/node_modules (npm ci)"),
    ];
    let missing: Vec<&str> = missing.into_iter().flatten().collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test needs {missing:?} under CI"
        );
        eprintln!("skipped: the browser test needs {missing:?}");
        return;
    }

    let out = Command::new("node")
        .arg(browser.join("dashboard.test.mjs"))
        .env("MAESTRA_BACKEND_BIN", env!("CARGO_BIN_EXE_maestra-backend"))
        .env("ARTIFACT_DIR", root.join("target/browser-artifacts"))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with(" 0 failed"), "{last}");
}
