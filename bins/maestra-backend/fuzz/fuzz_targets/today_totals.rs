//! Arbitrary bytes as the metrics file read backwards for today's spend:
//! never a panic, and the sum is a count of today's records at most as
//! large as the number of lines.

#![no_main]

use libfuzzer_sys::fuzz_target;
use metrics_core::today_totals;
use time::macros::date;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("metrics.jsonl");
    std::fs::write(&path, data).expect("write");
    let totals = today_totals(&path, date!(2025 - 12 - 28)).expect("read");
    let lines = data.split(|&b| b == b'\n').count() as u64;
    assert!(totals.requests <= lines);
    if totals.requests == 0 {
        assert_eq!(totals.cost_usd, 0.0);
    }
});
