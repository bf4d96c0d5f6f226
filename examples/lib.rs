//! Programs showing how a Rust service of the 8825 family embeds
//! `metrics-core`, `log-json` and `alerts-slack` together; see
//! `worker_service.rs` (`cargo run -p maestra-examples --example
//! worker_service`). Each crate also has an example of its own.
