//! `maestra-stats`: answers the observability note's questions about the
//! metrics JSONL file (latency percentiles, errors, cost, requests) fast,
//! streaming, with `--json` output equal to the note's jq pipelines.
//!
//! ```text
//! $ maestra-stats latency
//! Min: 12
//! P50: 234
//! P95: 812
//! P99: 1490
//! Max: 4021
//! $ maestra-stats --file - cost --by surface --json < metrics.jsonl
//! ```
//!
//! The file is read in large blocks of whole lines; blocks are scanned on
//! every core and folded in file order, so memory holds only what an
//! answer needs (one entry per group, one per distinct latency) and sums
//! come out bit-for-bit as jq's.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod analysis;
mod blocks;
mod cli;
mod error;
mod layout;
mod progress;
mod record;
mod render;
mod scan;
mod timestamp;

use std::fs::File;
use std::io::{self, Read, Write};
use std::process::ExitCode;

use analysis::{scan_block, Tally};
use blocks::{scan_in_order, Blocks, BLOCK_BYTES};
use cli::{Invocation, Source};
use error::StatsError;
use progress::Progress;

fn main() -> ExitCode {
    match run(std::env::args().skip(1)) {
        Ok(()) => ExitCode::SUCCESS,

        // A closed pipe (`maestra-stats ... | head`) is the reader's choice.
        Err(StatsError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("maestra-stats: {}", chain(&error));
            ExitCode::from(error.exit_status())
        }
    }
}

fn run(args: impl Iterator<Item = String>) -> Result<(), StatsError> {
    let run = match cli::parse(args)? {
        Invocation::Help => return print(&cli::help()),
        Invocation::Version => {
            return print(&format!(
                "maestra-stats {}\n",
                env!("CARGO_PKG_VERSION")
            ));
        }
        Invocation::Run(run) => run,
    };

    let (input, size, name) = open(&run.source)?;
    let threads = run.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    });
    let (question, filter) = (run.question, &run.filter);
    let mut tally = Tally::new(question);
    let mut progress = Progress::new(size);

    let scanned = scan_in_order(
        Blocks::new(input, BLOCK_BYTES),
        threads,
        |block| scan_block(block, question, filter),
        |partial, bytes| {
            tally.absorb(partial);
            progress.advance(bytes);
        },
    );
    progress.finish();
    scanned.map_err(|source| StatsError::Read { what: name, source })?;

    if tally.bad_lines > 0 {
        let n = tally.bad_lines;
        eprintln!(
            "maestra-stats: skipped {n} bad {}",
            if n == 1 { "line" } else { "lines" }
        );
    }

    let answer = tally.answer();
    let text =
        if run.json { render::json(&answer) } else { render::table(&answer) };
    print(&text)
}

/// An opened input: the reader, its size when known, and a name for
/// messages.
type Input = (Box<dyn Read + Send>, Option<u64>, String);

fn open(source: &Source) -> Result<Input, StatsError> {
    let path = match source {
        Source::Stdin => {
            return Ok((Box::new(io::stdin()), None, "stdin".into()))
        }
        Source::Path(path) => path.clone(),
        Source::Default => default_path()?,
    };
    let file = File::open(&path)
        .map_err(|source| StatsError::Open { path: path.clone(), source })?;
    let size = file.metadata().ok().map(|m| m.len());
    Ok((Box::new(file), size, path.display().to_string()))
}

/// The server's file: `MAESTRA_METRICS_PATH`, else metrics-core's default.
fn default_path() -> Result<std::path::PathBuf, StatsError> {
    match std::env::var_os("MAESTRA_METRICS_PATH").filter(|p| !p.is_empty()) {
        Some(path) => Ok(path.into()),
        None => metrics_core::default_metrics_path()
            .ok_or(StatsError::NoDefaultPath),
    }
}

fn print(text: &str) -> Result<(), StatsError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(StatsError::Write)
}

/// An error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
