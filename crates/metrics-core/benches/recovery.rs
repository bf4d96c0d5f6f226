//! Start-up recovery: `today_totals` on a 1 GiB metrics file whose last
//! day holds 10 000 records, beside a forward `RecordReader` pass over
//! that last day's bytes alone.
//!
//! `cargo bench -p metrics-core --bench recovery -- --warm-up-time 1
//! --measurement-time 3` (writes a 1 GiB file in the temporary folder,
//! removed afterwards; set `RECOVERY_BENCH_MIB` for another size).

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};

use criterion::{criterion_group, criterion_main, Criterion};
use metrics_core::{today_totals, RecordReader, RequestRecord};
use time::macros::{date, datetime};
use time::OffsetDateTime;

fn line(at: OffsetDateTime, i: u64) -> Vec<u8> {
    let record = RequestRecord {
        timestamp: at,
        request_id: format!("req_{i:012x}"),
        surface_id: "windsurf".into(),
        user_id: "justinharmon".into(),
        conversation_id: Some("conv_2025-12-28_jh_abc12345".into()),
        mode: "advisor".into(),
        latency_ms: 100 + i % 900,
        status_code: 200,
        tokens: i % 400,
        cost_usd: (i % 400) as f64 * 0.000002,
        error: None,
    };
    let mut buf = Vec::new();
    record.write_json_line(&mut buf);
    buf
}

fn recovery(c: &mut Criterion) {
    let mib: u64 = std::env::var("RECOVERY_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maestra_metrics.jsonl");
    let mut out = BufWriter::new(File::create(&path).unwrap());

    // Older days fill the file; the same line repeated is enough, since
    // the scan stops at the first of them.
    let old = line(datetime!(2025-12-27 23:59:59 UTC), 0);
    let mut written = 0;
    while written < mib << 20 {
        out.write_all(&old).unwrap();
        written += old.len() as u64;
    }
    let mut today_bytes = Vec::new();
    for i in 0..10_000 {
        today_bytes.extend(line(datetime!(2025-12-28 12:00 UTC), i));
    }
    out.write_all(&today_bytes).unwrap();
    out.write_all(b"{\"timestamp\":\"2025-12-28T1").unwrap();
    drop(out);

    let today = date!(2025 - 12 - 28);
    let totals = today_totals(&path, today).unwrap();
    assert_eq!(totals.requests, 10_000);

    c.bench_function("today_totals/1 GiB file, 10k records today", |b| {
        b.iter(|| today_totals(black_box(&path), today).unwrap())
    });
    c.bench_function("RecordReader/the same 10k records", |b| {
        b.iter(|| RecordReader::new(&today_bytes[..]).count())
    });
}

criterion_group!(benches, recovery);
criterion_main!(benches);
