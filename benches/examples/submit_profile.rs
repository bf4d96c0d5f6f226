//! Puts the sample record on disk N times one way, for
//! `valgrind --tool=callgrind`: `serde` (serde_json::to_writer into a
//! reused Vec), `line` (write_json_line into a reused Vec) or `submit`
//! (JsonlWriter::submit to a file under /dev/shm).
//!
//! `cargo build --release -p maestra-benches --example submit_profile`
//! then `valgrind --tool=callgrind
//! target/release/examples/submit_profile submit 100000`.

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Duration;

use maestra_benches::sample_record;
use metrics_core::{JsonlWriter, RequestRecord, WriterConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "submit".into());
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let r = sample_record();
    let mut buf = Vec::with_capacity(512);

    match which.as_str() {
        "serde" => (0..n).for_each(|_| serde(&mut buf, black_box(&r))),
        "line" => (0..n).for_each(|_| line(&mut buf, black_box(&r))),
        "submit" => {
            let dir = tempfile::tempdir_in("/dev/shm").unwrap();
            let config = WriterConfig {
                queue_capacity: 1 << 16,
                flush_interval: Duration::from_millis(1),
                ..WriterConfig::new(dir.path().join("p.jsonl"))
            };
            let (writer, guard) = JsonlWriter::open(config).unwrap();
            (0..n).for_each(|_| submit(&writer, black_box(&r)));
            let stats = guard.close().unwrap();
            println!("written {} dropped {}", stats.written, stats.dropped);
        }
        other => {
            println!("unknown way {other:?}");
            std::process::exit(2);
        }
    }
    println!("{which}: {n} records");
}

#[inline(never)]
fn serde(buf: &mut Vec<u8>, r: &RequestRecord) {
    buf.clear();
    serde_json::to_writer(&mut *buf, r).unwrap();
    buf.push(b'\n');
}

#[inline(never)]
fn line(buf: &mut Vec<u8>, r: &RequestRecord) {
    buf.clear();
    r.write_json_line(buf);
}

#[inline(never)]
fn submit(writer: &JsonlWriter, r: &RequestRecord) {
    writer.submit(r);
}
