//! The JSONL writer and the reader together: round trips, torn lines,
//! concurrent writers, write failures and recovery.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use metrics_core::{
    today_totals, DayTotals, JsonlWriter, RecordReader, RequestRecord,
    WriterConfig,
};
use time::macros::{date, datetime};
use time::OffsetDateTime;

fn record(i: u64, at: OffsetDateTime) -> RequestRecord {
    RequestRecord {
        timestamp: at,
        request_id: format!("req_{i}"),
        surface_id: ["windsurf", "cli", "we\"ird\n"][(i % 3) as usize].into(),
        user_id: "justinharmon".into(),
        conversation_id: (i % 2 == 0).then(|| format!("conv_{}", i / 10)),
        mode: "advisor".into(),
        latency_ms: 100 + i % 900,
        status_code: if i % 7 == 0 { 502 } else { 200 },
        tokens: i % 500,
        cost_usd: (i % 500) as f64 * 0.000002,
        error: (i % 7 == 0).then(|| "upstream_error".into()),
    }
}

fn fast(path: &Path) -> WriterConfig {
    WriterConfig {
        flush_interval: Duration::from_millis(20),
        retry_interval: Duration::from_millis(20),
        ..WriterConfig::new(path)
    }
}

fn read_all(path: &Path) -> (Vec<RequestRecord>, u64) {
    let mut reader = RecordReader::open(path).unwrap();
    let records = reader.by_ref().map(Result::unwrap).collect();
    (records, reader.skipped())
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn records_round_trip_through_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/metrics.jsonl");
    let at = datetime!(2025-12-28 15:30:00.123 UTC);
    let records: Vec<_> = (0..1000).map(|i| record(i, at)).collect();

    let (writer, guard) = JsonlWriter::open(fast(&path)).unwrap();
    assert!(records.iter().all(|r| writer.submit(r)));
    let stats = guard.close().unwrap();
    assert_eq!((stats.accepted, stats.written, stats.dropped), (1000, 1000, 0));
    assert!(stats.healthy);

    let (back, skipped) = read_all(&path);
    assert_eq!(skipped, 0);
    assert!(back == records, "records differ after the round trip");
    assert!(!writer.submit(&record(0, at)), "closed writers refuse");
    assert_eq!(writer.stats().dropped, 1);
}

#[test]
fn a_torn_or_unterminated_last_line_is_ended_by_the_next_writer() {
    let at = datetime!(2025-12-28 15:30 UTC);
    let mut whole = Vec::new();
    record(1, at).write_json_line(&mut whole);
    let unterminated = whole[..whole.len() - 1].to_vec();
    let torn = whole[..whole.len() / 2].to_vec();

    // (existing content, records read back, lines skipped)
    let cases = [(unterminated, 3, 0), (torn, 2, 1), (Vec::new(), 2, 0)];
    for (i, (existing, want_records, want_skipped)) in
        cases.into_iter().enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        fs::write(&path, &existing).unwrap();

        let (writer, guard) = JsonlWriter::open(fast(&path)).unwrap();
        writer.submit(&record(2, at));
        writer.submit(&record(3, at));
        drop(guard);

        let (records, skipped) = read_all(&path);
        assert_eq!((records.len(), skipped), (want_records, want_skipped));
        assert_eq!(records.last().unwrap().request_id, "req_3", "case {i}");
        assert!(fs::read(&path).unwrap().ends_with(b"\n"));
    }
}

#[test]
fn eight_threads_lose_and_tear_nothing() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    let (writer, guard) = JsonlWriter::open(fast(&path)).unwrap();
    let at = datetime!(2025-12-28 15:30 UTC);

    std::thread::scope(|s| {
        for t in 0..THREADS {
            let writer = writer.clone();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let r = record(t * PER_THREAD + i, at);

                    // The test wants every record; a service would drop.
                    while !writer.submit(&r) {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            });
        }
    });
    let stats = guard.close().unwrap();
    let total = THREADS * PER_THREAD;
    assert_eq!((stats.accepted, stats.written), (total, total));

    let (records, skipped) = read_all(&path);
    assert_eq!(skipped, 0);
    let ids: HashSet<_> = records.iter().map(|r| &r.request_id).collect();
    assert_eq!(ids.len() as u64, total);
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_counted_and_records_are_dropped_after_retry_for() {
    let config = WriterConfig {
        retry_for: Duration::from_millis(150),
        ..fast(Path::new("/dev/full"))
    };
    let (writer, guard) = JsonlWriter::open(config).unwrap();
    for i in 0..5 {
        assert!(writer.submit(&record(i, datetime!(2025-12-28 15:30 UTC))));
    }
    wait_for("a retry and the records given up", || {
        let stats = writer.stats();
        stats.write_errors >= 2 && stats.dropped == 5
    });

    // Health stays down however long the thread idles before the close:
    // reopening /dev/full succeeds, but nothing has been written since.
    let stats = guard.close().unwrap();
    assert!(!stats.healthy);
    assert!(stats.write_errors >= 2, "{stats:?}");
    assert_eq!((stats.accepted, stats.written), (5, 0));
    let text = stats.last_error.unwrap();
    assert!(text.starts_with("failed to write /dev/full: "), "{text}");
}

#[test]
fn a_quarter_full_queue_wakes_the_writer_before_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    let config = WriterConfig {
        queue_capacity: 64,
        flush_interval: Duration::from_secs(3600),
        ..WriterConfig::new(&path)
    };
    let (writer, guard) = JsonlWriter::open(config).unwrap();
    let at = datetime!(2025-12-28 15:30 UTC);

    // Each round brings the count of queued lines from 0 to 16, a quarter
    // of the queue: only that crossing can wake a thread pausing for an
    // hour, and it must be armed again once the thread has drained.
    for round in 1..=3u64 {
        for i in 0..16 {
            assert!(writer.submit(&record(round * 100 + i, at)));
        }
        wait_for("the burst to be written", || {
            writer.stats().written == round * 16
        });
    }

    let stats = guard.close().unwrap();
    assert_eq!((stats.accepted, stats.written, stats.dropped), (48, 48, 0));
    assert!(stats.healthy);
    let (records, skipped) = read_all(&path);
    assert_eq!((records.len(), skipped), (48, 0));
}

#[test]
fn writing_resumes_when_the_cause_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("sub");
    fs::write(&blocker, b"a file where a folder should be").unwrap();
    let path = blocker.join("m.jsonl");

    let (writer, guard) = JsonlWriter::open(fast(&path)).unwrap();
    let at = datetime!(2025-12-28 15:30 UTC);
    assert!(writer.submit(&record(1, at)));
    let before = writer.stats();
    assert!(!before.healthy);
    assert!(before.write_errors >= 1);
    assert!(before.last_error.unwrap().contains("failed to write"));

    wait_for("a retry", || writer.stats().write_errors >= 2);
    fs::remove_file(&blocker).unwrap();
    wait_for("recovery", || writer.stats().healthy);
    assert!(writer.submit(&record(2, at)));
    wait_for("both records", || writer.stats().written == 2);

    drop(guard);
    let (records, _) = read_all(&path);
    let ids: Vec<_> = records.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids, ["req_1", "req_2"]);
}

#[test]
fn today_totals_reads_the_last_day_from_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    let mut file = fs::File::create(&path).unwrap();
    let mut line = Vec::new();

    // Two earlier days, a megabyte of them, then today, then a torn line.
    let mut i = 0;
    let mut yesterday = DayTotals::default();
    for day in [
        datetime!(2025-12-26 10:00 UTC),
        datetime!(2025-12-27 23:59:59.999 UTC),
    ] {
        yesterday = DayTotals::default();
        for _ in 0..2500 {
            let r = record(i, day);
            yesterday.cost_usd += r.cost_usd;
            yesterday.requests += 1;
            r.write_json_line(&mut line);
            i += 1;
        }
    }
    let mut want = DayTotals::default();
    for k in 0..1200 {
        let r = record(k, datetime!(2025-12-28 00:00 UTC));
        want.cost_usd += r.cost_usd;
        want.requests += 1;
        r.write_json_line(&mut line);
        if k == 600 {
            line.extend_from_slice(b"garbage\n\n");
        }
    }
    line.extend_from_slice(br#"{"timestamp":"2025-12-28T23:"#);
    file.write_all(&line).unwrap();
    drop(file);

    let got = today_totals(&path, date!(2025 - 12 - 28)).unwrap();
    assert_eq!(got, want);
    // Newer records are passed over, older ones end the scan.
    let got = today_totals(&path, date!(2025 - 12 - 27)).unwrap();
    assert_eq!(got, yesterday);
    let later = today_totals(&path, date!(2025 - 12 - 29)).unwrap();
    assert_eq!(later, DayTotals::default());

    // The forward reader agrees.
    let (records, skipped) = read_all(&path);
    assert_eq!(skipped, 3);
    let today: Vec<_> = records
        .iter()
        .filter(|r| r.timestamp.date() == date!(2025 - 12 - 28))
        .collect();
    let cost = today.iter().fold(0.0, |sum, r| sum + r.cost_usd);
    assert_eq!((cost, today.len() as u64), (want.cost_usd, want.requests));
}
