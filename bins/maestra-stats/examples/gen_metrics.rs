//! Writes a synthetic metrics JSONL file to stdout, for benchmarks:
//! `gen_metrics LINES [SEED]` (deterministic for a given seed).

#![allow(clippy::print_stderr)]

#[path = "../tests/support/generate.rs"]
mod generate;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |at: usize, default: u64| match args.get(at) {
        None => Some(default),
        Some(text) => text.parse().ok(),
    };
    let (Some(lines), Some(seed)) = (number(0, 1_000_000), number(1, 8825))
    else {
        eprintln!("usage: gen_metrics [LINES] [SEED]");
        return ExitCode::from(2);
    };

    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let written = generate::write_lines(lines, seed, None, &mut out)
        .and_then(|_| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gen_metrics: failed to write: {error}");
            ExitCode::FAILURE
        }
    }
}
