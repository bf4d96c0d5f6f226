//! The command line: what it accepts, and the help text that says so.

use std::path::PathBuf;

use crate::analysis::{Filter, Question};
use crate::error::StatsError;
use crate::timestamp::parse_bound;

/// Where the records come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `--file -`.
    Stdin,
    /// `--file PATH`.
    Path(PathBuf),
    /// No `--file`: the server's default path.
    Default,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// `--help`.
    Help,
    /// `--version`.
    Version,
    /// Run an analysis.
    Run(Run),
}

/// An analysis to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// Input.
    pub source: Source,
    /// What to compute.
    pub question: Question,
    /// Which records take part.
    pub filter: Filter,
    /// JSON instead of a table.
    pub json: bool,
    /// Scanning threads; `None` means one per available core.
    pub threads: Option<usize>,
}

/// The `--help` text.
pub fn help() -> String {
    format!(
        "\
maestra-stats {version}
Analyses of the Maestra metrics file (one JSON record per line).

Usage: maestra-stats [OPTIONS] COMMAND [OPTIONS]

Commands:
  summary                     requests, errors, average latency, total cost
  latency                     Min, P50, P95, P99 and Max latency in ms
                              (value at index int(count*q) of the sorted
                              latencies)
  errors [--by status|error]  records per status code (default: status,
                              all records), or per error code among
                              records whose error is not null, most
                              frequent first
  cost [--by day|surface]     summed cost_usd per day (default: day, the
                              timestamp before its 'T') or per surface
  requests [--by surface]     records per surface

Options:
  --file PATH     metrics file, '-' for stdin [default:
                  $MAESTRA_METRICS_PATH, else ~/.8825/maestra_metrics.jsonl]
  --since DATE    keep records at or after DATE (inclusive)
  --until DATE    keep records before DATE (exclusive)
                  DATE: YYYY-MM-DD (midnight UTC) or an RFC 3339 timestamp
  --surface ID    keep records whose surface_id is ID
  --json          print JSON: what the jq commands of the observability
                  note print for the same question
  --threads N     scanning threads [default: one per core]
  -h, --help      print this help
  -V, --version   print the version

Lines that are not records are skipped and counted on stderr.
Exit status: 0 done, 1 input could not be read, 2 bad usage.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Invocation, StatsError>
where
    I: IntoIterator<Item = String>,
{
    let mut args = args.into_iter();
    let mut source = Source::Default;
    let mut command: Option<String> = None;
    let mut by: Option<String> = None;
    let mut filter = Filter::default();
    let mut json = false;
    let mut threads = None;

    while let Some(arg) = args.next() {
        // `--name=value` and `--name value` are both accepted.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, StatsError> {
            inline.clone().or_else(|| args.next()).ok_or_else(|| {
                usage(format!("option '{name}' needs a value ({what})"))
            })
        };

        match name.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "--json" if inline.is_none() => json = true,
            "--file" => {
                let path = value("a path, or - for stdin")?;
                source = match path.as_str() {
                    "-" => Source::Stdin,
                    "" => return Err(usage("option '--file' needs a path")),
                    _ => Source::Path(PathBuf::from(path)),
                };
            }
            "--by" => by = Some(value("what to group by")?),
            "--since" => filter.since = Some(bound(&name, &value("a date")?)?),
            "--until" => filter.until = Some(bound(&name, &value("a date")?)?),
            "--surface" => filter.surface = Some(value("a surface_id")?),
            "--threads" => {
                let text = value("a number of threads")?;
                let n = text.parse().ok().filter(|n| (1..=256).contains(n));
                let n = n.ok_or_else(|| {
                    usage(format!("--threads wants 1 to 256, not '{text}'"))
                })?;
                threads = Some(n);
            }
            _ if name.starts_with('-') && name != "-" => {
                return Err(usage(format!("unknown option '{arg}'")));
            }
            _ if command.is_none() => command = Some(arg),
            _ => return Err(usage(format!("unexpected argument '{arg}'"))),
        }
    }

    let Some(command) = command else {
        return Err(usage(
            "missing command (summary, latency, errors, cost or requests)",
        ));
    };
    let question = question(&command, by.as_deref())?;
    if let (Some(since), Some(until)) = (filter.since, filter.until) {
        if since >= until {
            return Err(usage("--since must be earlier than --until"));
        }
    }
    Ok(Invocation::Run(Run { source, question, filter, json, threads }))
}

fn question(command: &str, by: Option<&str>) -> Result<Question, StatsError> {
    let question = match (command, by) {
        ("summary", None) => Question::Summary,
        ("latency", None) => Question::Latency,
        ("errors", None | Some("status")) => Question::ErrorsByStatus,
        ("errors", Some("error")) => Question::ErrorsByError,
        ("cost", None | Some("day")) => Question::CostByDay,
        ("cost", Some("surface")) => Question::CostBySurface,
        ("requests", None | Some("surface")) => Question::RequestsBySurface,
        ("summary" | "latency", Some(_)) => {
            return Err(usage(format!("'{command}' takes no --by")));
        }
        ("errors" | "cost" | "requests", Some(by)) => {
            let choices = match command {
                "errors" => "status or error",
                "cost" => "day or surface",
                _ => "surface",
            };
            return Err(usage(format!(
                "'{command} --by' takes {choices}, not '{by}'"
            )));
        }
        _ => return Err(usage(format!("unknown command '{command}'"))),
    };
    Ok(question)
}

fn bound(
    name: &str,
    text: &str,
) -> Result<crate::timestamp::Instant, StatsError> {
    parse_bound(text).ok_or_else(|| {
        usage(format!(
            "{name} wants YYYY-MM-DD or an RFC 3339 timestamp, not '{text}'"
        ))
    })
}

fn usage(message: impl Into<String>) -> StatsError {
    StatsError::Usage(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Invocation, String> {
        parse(line.split_whitespace().map(str::to_owned))
            .map_err(|e| e.to_string())
    }

    fn run(line: &str) -> Run {
        match parse_str(line) {
            Ok(Invocation::Run(run)) => run,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn commands_and_groupings() {
        let cases = [
            ("summary", Question::Summary),
            ("latency", Question::Latency),
            ("errors", Question::ErrorsByStatus),
            ("errors --by status", Question::ErrorsByStatus),
            ("errors --by=error", Question::ErrorsByError),
            ("--by error errors", Question::ErrorsByError),
            ("cost", Question::CostByDay),
            ("cost --by surface", Question::CostBySurface),
            ("requests --by surface", Question::RequestsBySurface),
        ];
        for (line, want) in cases {
            assert_eq!(run(line).question, want, "{line}");
        }
    }

    #[test]
    fn options_anywhere() {
        let got = run(
            "--file - cost --json --surface cli --since 2025-12-01 --threads 1",
        );
        assert_eq!(got.source, Source::Stdin);
        assert!(got.json);
        assert_eq!(got.filter.surface.as_deref(), Some("cli"));
        assert_eq!(got.filter.since, parse_bound("2025-12-01"));
        assert_eq!(got.threads, Some(1));
        assert_eq!(
            run("latency --file=/tmp/x").source,
            Source::Path("/tmp/x".into())
        );
        assert_eq!(run("latency").source, Source::Default);
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(parse_str("latency --help"), Ok(Invocation::Help));
        assert_eq!(parse_str("-V"), Ok(Invocation::Version));
    }

    #[test]
    fn bad_usage_is_explained() {
        let cases = [
            ("", "missing command"),
            ("frobnicate", "unknown command 'frobnicate'"),
            ("latency --by day", "takes no --by"),
            ("cost --by week", "not 'week'"),
            ("errors --by", "needs a value"),
            ("latency --bogus", "unknown option '--bogus'"),
            ("latency extra", "unexpected argument 'extra'"),
            ("latency --since 2025-13-01", "YYYY-MM-DD"),
            ("latency --since 2025-12-02 --until 2025-12-01", "earlier"),
            ("latency --threads 0", "1 to 256"),
            ("latency --json=yes", "unknown option"),
        ];
        for (line, want) in cases {
            let error = parse_str(line).unwrap_err();
            assert!(error.contains(want), "{line}: {error}");
        }
    }
}
