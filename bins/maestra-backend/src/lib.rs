//! `maestra-backend`: the Maestra chat backend with request metrics, JSON
//! logs and Slack alerts.
//!
//! A thin hyper server composing `metrics-core`, `log-json` and
//! `alerts-slack`. Configuration comes from `MAESTRA_*` environment
//! variables (`maestra-backend --help` lists them with their defaults);
//! `docs/OBSERVABILITY.md` describes the endpoints, files and alerts.
//!
//! The library exists for the binary, for fuzzing and for benchmarks: it
//! exposes the parsing of chat requests, the identifier rules and the
//! built-in local responder; everything else is private.
//!
//! ```
//! let request = maestra_backend::chat::parse(
//!     br#"{"message":"What should I do next?","user_id":"jh"}"#,
//! )
//! .unwrap();
//! assert_eq!(request.surface_id, "unknown");
//! let answer = maestra_backend::local_answer(&request.message);
//! assert!(answer.tokens > 0);
//! ```

// The binary talks to people on stderr: the start-up line and errors.
#![allow(clippy::print_stderr, clippy::print_stdout)]

mod alerting;
mod app;
mod auth;
pub mod chat;
mod config;
pub mod error;
mod history;
pub mod ids;
mod monitor;
mod ratelimit;
mod responder;
mod server;
mod startup;
mod timefmt;
mod views;

use std::process::ExitCode;

use config::Config;

pub use responder::{estimate_tokens, local_answer, Answer};

/// Runs the command line: `--help`, `--version`, or the server with the
/// configuration of the environment; returns the exit status.
pub fn run_cli() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            print!("{}", config::help_text());
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("maestra-backend {}", app::VERSION);
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!(
                "maestra-backend: unknown argument {other:?}; \
                 configuration is by environment variable, see --help"
            );
            return ExitCode::from(2);
        }
    }

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("maestra-backend: {e}");
            return ExitCode::from(2);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("maestra-backend: failed to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(startup::run(config))
}
