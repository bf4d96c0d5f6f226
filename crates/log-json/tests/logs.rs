//! End-to-end behaviour of the logs built by `LogConfig`: files, levels,
//! rotation, reopening, concurrency, shutdown and write failures.

use std::fs;
use std::path::Path;
use std::time::Duration;

use log_json::{Level, LogConfig};
use serde_json::Value;
use slog::{crit, debug, error, info, o, trace, warn};

/// Every line of `path`, parsed, checking the fixed fields of each.
fn lines(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "{path:?}");
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{e}: {line:?}"));
            for key in ["timestamp", "logger", "level", "event_type", "message"]
            {
                assert!(v.get(key).is_some(), "no {key} in {line}");
            }
            v
        })
        .collect()
}

fn levels(values: &[Value]) -> Vec<String> {
    values.iter().map(|v| v["level"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn levels_split_between_main_and_error_files() {
    let cases = [
        (Level::Debug, vec!["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
        (Level::Info, vec!["INFO", "WARNING", "ERROR", "CRITICAL"]),
        (Level::Warning, vec!["WARNING", "ERROR", "CRITICAL"]),
        (Level::Error, vec!["ERROR", "CRITICAL"]),
        (Level::Critical, vec!["CRITICAL"]),
    ];
    for (level, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig::new(dir.path()).level(level);
        let (main, errors) = (config.file_path(), config.error_file_path());
        let (log, guard) = config.build().unwrap();
        // slog compiles `trace!` out of default builds; it maps to DEBUG.
        trace!(log, "t");
        debug!(log, "d");
        info!(log, "i");
        warn!(log, "w");
        error!(log, "e");
        crit!(log, "c");
        assert!(guard.shutdown());

        assert_eq!(levels(&lines(&main)), want, "{level}");
        let want_errors: Vec<_> = want
            .iter()
            .filter(|l| **l == "ERROR" || **l == "CRITICAL")
            .copied()
            .collect();
        assert_eq!(levels(&lines(&errors)), want_errors, "{level}");
    }
}

#[test]
fn default_names_logger_and_context() {
    let dir = tempfile::tempdir().unwrap();
    let (log, guard) = LogConfig::new(dir.path()).build().unwrap();
    let log = log.new(o!("service" => "maestra-backend", "user_id" => "x"));
    info!(log, "Request received"; "event_type" => "request_received",
        "user_id" => "justinharmon", "status_code" => 200u16);
    drop(guard);

    let all = lines(&dir.path().join("maestra_backend.log"));
    assert_eq!(all.len(), 1);
    let v = &all[0];
    assert_eq!(v["logger"], "MaestraBackend");
    assert_eq!(v["event_type"], "request_received");
    assert_eq!(v["user_id"], "justinharmon");
    assert_eq!(v["status_code"], 200);
    assert_eq!(v["service"], "maestra-backend");
    assert!(dir.path().join("maestra_backend_error.log").exists());
}

#[test]
fn configured_names_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let (log, guard) = LogConfig::new(dir.path().join("nested/dir"))
        .file_name("svc.log")
        .error_file_name("svc_err.log")
        .logger_name("Other")
        .build()
        .unwrap();
    error!(log, "boom"; "event_type" => "upstream_error");
    drop(guard);
    let main = lines(&dir.path().join("nested/dir/svc.log"));
    let errors = lines(&dir.path().join("nested/dir/svc_err.log"));
    assert_eq!(main, errors);
    assert_eq!(main[0]["logger"], "Other");
}

#[cfg(unix)]
#[test]
fn both_files_get_the_configured_mode() {
    use std::os::unix::fs::PermissionsExt;

    for mode in [0o640, 0o600] {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig::new(dir.path()).mode(mode).max_bytes(300);
        let (main, errors) = (config.file_path(), config.error_file_path());
        let (log, guard) = config.build().unwrap();
        for _ in 0..5 {
            error!(log, "rotate me"; "pad" => "x".repeat(100));
        }
        drop(guard);
        let rotated = dir.path().join("maestra_backend_error.log.1");
        for path in [main, errors, rotated] {
            let got = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(got & 0o777, mode, "{path:?}");
        }
    }
}

#[test]
fn bad_settings_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let configs = [
        LogConfig::new(dir.path()).max_bytes(0),
        LogConfig::new(dir.path()).channel_size(0),
        LogConfig::new(dir.path()).file_name("a/b.log"),
        LogConfig::new(dir.path()).file_name(""),
        LogConfig::new(dir.path()).error_file_name("maestra_backend.log"),
    ];
    for config in configs {
        let err = config.build().unwrap_err();
        assert!(err.to_string().starts_with("invalid log configuration"));
    }

    let blocker = dir.path().join("file");
    fs::write(&blocker, "").unwrap();
    let err = LogConfig::new(blocker.join("logs")).build().unwrap_err();
    assert!(err.to_string().starts_with("failed to create log folder"));
}

#[test]
fn rotation_keeps_exactly_keep_files_of_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (log, guard) =
        LogConfig::new(dir.path()).max_bytes(2_000).keep(3).build().unwrap();
    for i in 0..500u32 {
        info!(log, "line"; "event_type" => "n", "i" => i);
    }
    drop(guard);

    let base = dir.path().join("maestra_backend.log");
    let mut seen = Vec::new();
    for n in (1..=3).rev() {
        let rotated = dir.path().join(format!("maestra_backend.log.{n}"));
        let size = fs::metadata(&rotated).unwrap().len();
        assert!(size <= 2_000, "{n}: {size}");
        seen.extend(lines(&rotated));
    }
    seen.extend(lines(&base));
    assert!(!dir.path().join("maestra_backend.log.4").exists());

    // The kept files hold the newest lines, in order, without a gap.
    let numbers: Vec<u64> =
        seen.iter().map(|v| v["i"].as_u64().unwrap()).collect();
    assert_eq!(*numbers.last().unwrap(), 499);
    for pair in numbers.windows(2) {
        assert_eq!(pair[1], pair[0] + 1);
    }
}

#[test]
fn explicit_reopen_after_an_external_move() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::new(dir.path());
    let path = config.file_path();
    let (log, guard) = config.build().unwrap();
    let handle = guard.handle();
    info!(log, "before");

    // The writer thread must have written "before" prior to the move.
    while lines(&path).is_empty() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let moved = dir.path().join("moved.log");
    fs::rename(&path, &moved).unwrap();
    handle.reopen();
    info!(log, "after");
    drop(guard);

    assert_eq!(lines(&moved)[0]["message"], "before");
    let now = lines(&path);
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["message"], "after");
}

#[test]
fn automatic_reopen_after_an_external_move() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::new(dir.path());
    let path = config.file_path();
    let (log, guard) = config.build().unwrap();
    info!(log, "before");
    while lines(&path).is_empty() {
        std::thread::sleep(Duration::from_millis(1));
    }
    fs::rename(&path, dir.path().join("moved.log")).unwrap();

    // The check runs at most once a second; keep logging until it has.
    let mut sent = 0;
    while !path.exists() && sent < 400 {
        info!(log, "after"; "n" => sent);
        sent += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(guard);
    assert!(path.exists(), "no new file after {sent} lines");
    let moved = lines(&dir.path().join("moved.log")).len();
    assert_eq!(moved + lines(&path).len(), 1 + sent);
}

#[test]
fn concurrent_threads_write_whole_lines_and_lose_none() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        LogConfig::new(dir.path()).channel_size(1 << 16).max_bytes(1 << 30);
    let path = config.file_path();
    let (log, guard) = config.build().unwrap();
    let handle = guard.handle();
    let long = "x".repeat(3_000);

    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let log = log.new(o!("thread" => t));
            let long = long.clone();
            std::thread::spawn(move || {
                for i in 0..2_000u32 {
                    info!(log, "line"; "i" => i, "pad" => &long);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(guard.shutdown());

    let all = lines(&path);
    assert_eq!(handle.dropped(), 0);
    assert_eq!(all.len(), 8_000);
    for t in 0..4 {
        let mine: Vec<u64> = all
            .iter()
            .filter(|v| v["thread"] == t)
            .map(|v| v["i"].as_u64().unwrap())
            .collect();
        assert_eq!(mine, (0..2_000).collect::<Vec<_>>(), "thread {t}");
    }
}

#[test]
fn shutdown_flushes_every_queued_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::new(dir.path())
        .channel_size(100_000)
        .shutdown_timeout(Duration::from_secs(30));
    let path = config.file_path();
    let (log, guard) = config.build().unwrap();
    for i in 0..50_000u32 {
        info!(log, "queued"; "i" => i);
    }
    let handle = guard.handle();
    assert!(guard.shutdown());
    assert_eq!(handle.dropped(), 0);
    assert_eq!(lines(&path).len(), 50_000);

    // After shutdown nothing is written, and the loss is counted.
    info!(log, "late");
    assert_eq!(handle.dropped(), 1);
    assert_eq!(lines(&path).len(), 50_000);
}

#[test]
fn gzip_rotation_through_the_logger() {
    let dir = tempfile::tempdir().unwrap();
    let (log, guard) = LogConfig::new(dir.path())
        .max_bytes(1_000)
        .keep(2)
        .gzip(true)
        .build()
        .unwrap();
    for i in 0..100u32 {
        info!(log, "line"; "i" => i);
    }
    drop(guard);
    for n in 1..=2 {
        let gz = dir.path().join(format!("maestra_backend.log.{n}.gz"));
        assert!(gz.exists(), "{gz:?}");
        assert!(!dir.path().join(format!("maestra_backend.log.{n}")).exists());
    }
}

#[cfg(unix)]
#[test]
fn write_errors_are_counted_and_logging_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("logs");
    let config = LogConfig::new(&folder);
    let path = config.file_path();
    let (log, guard) = config.build().unwrap();
    let handle = guard.handle();
    info!(log, "first");
    while lines(&path).is_empty() {
        std::thread::sleep(Duration::from_millis(1));
    }

    // A file where the folder was: reopening must fail until it goes.
    fs::remove_dir_all(&folder).unwrap();
    fs::write(&folder, "in the way").unwrap();
    let mut tries = 0;
    while handle.is_healthy() && tries < 400 {
        info!(log, "lost");
        tries += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!handle.is_healthy(), "no failure after {tries} lines");
    assert!(handle.write_errors() >= 1);
    let last = handle.last_error().unwrap();
    assert!(last.contains("maestra_backend.log"), "{last}");

    fs::remove_file(&folder).unwrap();
    info!(log, "back");
    drop(guard);
    assert!(handle.is_healthy());
    let now = lines(&path);
    assert_eq!(now.last().unwrap()["message"], "back");
}

#[test]
fn guard_and_handle_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<log_json::LogGuard>();
    send_sync::<log_json::LogHandle>();
    send_sync::<log_json::LogConfig>();
    send_sync::<log_json::Error>();
}
