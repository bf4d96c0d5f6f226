//! Resident size before and after counting many requests with one
//! `Aggregator`: the aggregator's memory is fixed at construction, so the
//! growth should stay near zero.
//!
//! `cargo run --release -p maestra-benches --example record_rss [N]`
//! (N defaults to 10 000 000). Surfaces and conversations vary so that
//! the tables fill as they would in service.

#![allow(clippy::print_stdout)]

use std::hint::black_box;

use maestra_benches::{sample_record, surface_names, vm_rss_kib};
use metrics_core::Aggregator;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let surfaces = surface_names(40);
    // More conversations than the table's 16384 slots, so that every
    // slot is claimed and the table is filled, as in a long-lived server.
    let conversations: Vec<String> =
        (0..50_000).map(|i| format!("conv_2025-12-28_jh_{i:08}")).collect();
    let mut r = sample_record();

    // Made and warmed before the first reading: its tables are allocated
    // up front, which is the fixed cost, not growth.
    let agg = Aggregator::default();
    agg.record(&r);
    let before = vm_rss_kib().unwrap_or(0);

    for i in 0..n {
        let i = i as usize;
        r.surface_id.clone_from(&surfaces[i % surfaces.len()]);
        r.conversation_id = Some(conversations[i % 50_000].clone());
        r.status_code = [200, 200, 200, 404, 502][i % 5];
        r.latency_ms = (i % 3000) as u64;
        agg.record(black_box(&r));
    }

    let after = vm_rss_kib().unwrap_or(0);
    let snap = agg.snapshot("bench", "0");
    println!("records {n}");
    println!("counted {}", snap.total_requests);
    println!("VmRSS before {before} KiB");
    println!("VmRSS after {after} KiB");
    println!("growth {} KiB", after.saturating_sub(before));
}
