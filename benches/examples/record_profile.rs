//! Counts the sample request N times through one recorder, for
//! `valgrind --tool=callgrind`, which counts instructions exactly where
//! wall-clock timings on a shared machine are noisy.
//!
//! `cargo build --release -p maestra-benches --example record_profile`
//! then `valgrind --tool=callgrind target/release/examples/record_profile
//! metrics_core 100000` (or `metrics`, `prometheus`,
//! `prometheus_client`), and a third argument for the number of threads
//! recording at once (default 1). Divide the `run` function's inclusive
//! count by N times the threads for instructions per request.

#![allow(clippy::print_stdout)]

use std::hint::black_box;

use maestra_benches::record_peers::{
    MetricsCrate, PromClient, Recorder, TikvPrometheus,
};
use maestra_benches::sample_record;
use metrics_core::Aggregator;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "metrics_core".into());
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rec: Box<dyn Recorder> = match which.as_str() {
        "metrics_core" => Box::new(Aggregator::default()),
        "metrics" => Box::new(MetricsCrate::install()),
        "prometheus" => Box::new(TikvPrometheus::new()),
        "prometheus_client" => Box::new(PromClient::new()),
        other => {
            println!("unknown recorder {other:?}");
            std::process::exit(2);
        }
    };
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let r = sample_record();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..n {
                    run(&*rec, black_box(&r));
                }
            });
        }
    });
    println!("{which}: {n} records on each of {threads} thread(s)");
}

/// One request through `rec`; kept out of line so that callgrind shows
/// its inclusive cost under this name.
#[inline(never)]
fn run(rec: &dyn Recorder, r: &metrics_core::RequestRecord) {
    rec.record(r);
}
