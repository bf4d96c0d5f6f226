//! Prometheus text format 0.0.4: [`render`] writes the aggregator's
//! families, [`PromText`] lets a server append its own safely.
//!
//! Families written by [`render`] (all with `HELP` and `TYPE`):
//! `maestra_uptime_seconds` gauge, `maestra_requests_total{surface,status}`
//! counter, `maestra_errors_total{status="4xx"|"5xx"}` counter,
//! `maestra_request_duration_seconds` histogram, `maestra_cost_usd_total`
//! counter, `maestra_active_conversations` gauge and
//! `maestra_daily_cost_usd` gauge.

use std::fmt::Write as _;

use crate::snapshot::{Snapshot, DURATION_BUCKETS_LE};

/// The `Content-Type` of the text this module writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const CLASS_LABELS: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// A metric family that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PromError {
    /// The name is not `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {0:?}")]
    MetricName(String),
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*` or starts with `__`.
    #[error("invalid label name {0:?}")]
    LabelName(String),
    /// A counter's name does not end in `_total`.
    #[error("counter name {0:?} does not end in _total")]
    CounterSuffix(String),
    /// The family was already written to this text.
    #[error("metric family {0:?} is written twice")]
    Duplicate(String),
}

/// Writes the aggregator's families for `snap` to `out`.
pub fn render(snap: &Snapshot, out: &mut String) {
    PromText::new(out).write_snapshot(snap);
}

/// One series of a labelled family: label pairs and the value.
pub type Series<'s> = (&'s [(&'s str, &'s str)], f64);

/// Appends metric families to a string, checking names and escaping
/// help text and label values, and refusing a family written twice.
///
/// ```
/// use metrics_core::prometheus::PromText;
///
/// let mut text = String::new();
/// let mut prom = PromText::new(&mut text);
/// prom.counter("maestra_rate_limited_total", "429 answers.", 3.0)?;
/// prom.gauge_with_labels(
///     "maestra_build_info",
///     "Build of the service.",
///     &[(&[("version", "2.0.0")], 1.0)],
/// )?;
/// assert!(text.ends_with("maestra_build_info{version=\"2.0.0\"} 1\n"));
/// # Ok::<(), metrics_core::prometheus::PromError>(())
/// ```
#[derive(Debug)]
pub struct PromText<'a> {
    out: &'a mut String,
    families: Vec<String>,
}

impl<'a> PromText<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut String) -> Self {
        PromText { out, families: Vec::new() }
    }

    /// Writes the aggregator's families for `snap`.
    ///
    /// # Errors
    ///
    /// [`PromError::Duplicate`] if one of them was already written here.
    pub fn snapshot(&mut self, snap: &Snapshot) -> Result<(), PromError> {
        const NAMES: [&str; 7] = [
            "maestra_uptime_seconds",
            "maestra_requests_total",
            "maestra_errors_total",
            "maestra_request_duration_seconds",
            "maestra_cost_usd_total",
            "maestra_active_conversations",
            "maestra_daily_cost_usd",
        ];
        if let Some(name) = NAMES.iter().find(|n| self.seen(n)) {
            return Err(PromError::Duplicate((*name).to_owned()));
        }
        self.write_snapshot(snap);
        Ok(())
    }

    /// Writes an unlabelled counter; `name` must end in `_total`.
    pub fn counter(
        &mut self,
        name: &str,
        help: &str,
        value: f64,
    ) -> Result<(), PromError> {
        self.counter_with_labels(name, help, &[(&[], value)])
    }

    /// Writes an unlabelled gauge.
    pub fn gauge(
        &mut self,
        name: &str,
        help: &str,
        value: f64,
    ) -> Result<(), PromError> {
        self.gauge_with_labels(name, help, &[(&[], value)])
    }

    /// Writes a counter with one sample per entry of `series`.
    pub fn counter_with_labels(
        &mut self,
        name: &str,
        help: &str,
        series: &[Series<'_>],
    ) -> Result<(), PromError> {
        if !name.ends_with("_total") {
            return Err(PromError::CounterSuffix(name.to_owned()));
        }
        self.family(name, help, "counter", series)
    }

    /// Writes a gauge with one sample per entry of `series`.
    pub fn gauge_with_labels(
        &mut self,
        name: &str,
        help: &str,
        series: &[Series<'_>],
    ) -> Result<(), PromError> {
        self.family(name, help, "gauge", series)
    }

    fn seen(&self, name: &str) -> bool {
        self.families.iter().any(|f| f == name)
    }

    fn family(
        &mut self,
        name: &str,
        help: &str,
        kind: &str,
        series: &[Series<'_>],
    ) -> Result<(), PromError> {
        check_metric_name(name)?;
        for (labels, _) in series {
            labels.iter().try_for_each(|(l, _)| check_label_name(l))?;
        }
        if self.seen(name) {
            return Err(PromError::Duplicate(name.to_owned()));
        }
        self.header(name, help, kind);
        for (labels, value) in series {
            self.sample(name, labels, *value);
        }
        Ok(())
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        self.families.push(name.to_owned());
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        if help.contains(['\\', '\n']) {
            for c in help.chars() {
                match c {
                    '\\' => self.out.push_str("\\\\"),
                    '\n' => self.out.push_str("\\n"),
                    c => self.out.push(c),
                }
            }
        } else {
            self.out.push_str(help);
        }
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind);
        self.out.push('\n');
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                push_label_value(self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        push_value(self.out, value);
        self.out.push('\n');
    }

    fn write_snapshot(&mut self, snap: &Snapshot) {
        self.header(
            "maestra_uptime_seconds",
            "Seconds since the service started.",
            "gauge",
        );
        self.sample("maestra_uptime_seconds", &[], snap.uptime_seconds as f64);

        let name = "maestra_requests_total";
        self.header(
            name,
            "Requests answered, by surface and status class.",
            "counter",
        );
        for surface in &snap.surfaces {
            for (class, &count) in CLASS_LABELS.iter().zip(&surface.by_class) {
                if count > 0 {
                    let labels =
                        [("surface", &*surface.surface), ("status", *class)];
                    self.sample(name, &labels, count as f64);
                }
            }
        }

        let name = "maestra_errors_total";
        self.header(
            name,
            "Requests answered with a 4xx or 5xx status.",
            "counter",
        );
        self.sample(name, &[("status", "4xx")], snap.total_4xx as f64);
        self.sample(name, &[("status", "5xx")], snap.total_5xx as f64);

        let name = "maestra_request_duration_seconds";
        self.header(name, "Time from request to answer.", "histogram");
        let bucket = "maestra_request_duration_seconds_bucket";
        for (le, &count) in
            DURATION_BUCKETS_LE.iter().zip(&snap.duration_buckets)
        {
            self.sample(bucket, &[("le", le)], count as f64);
        }
        self.sample(bucket, &[("le", "+Inf")], snap.duration_count as f64);
        let sum = snap.latency_sum_ms as f64 / 1000.0;
        self.sample("maestra_request_duration_seconds_sum", &[], sum);
        let count = snap.duration_count as f64;
        self.sample("maestra_request_duration_seconds_count", &[], count);

        let name = "maestra_cost_usd_total";
        self.header(name, "Cost of all requests in US dollars.", "counter");
        self.sample(name, &[], snap.total_cost_usd);

        let name = "maestra_active_conversations";
        self.header(name, "Conversations with a recent request.", "gauge");
        self.sample(name, &[], snap.active_conversations as f64);

        let name = "maestra_daily_cost_usd";
        self.header(
            name,
            "Cost of the current UTC day in US dollars.",
            "gauge",
        );
        self.sample(name, &[], snap.daily_cost_usd);
    }
}

fn check_metric_name(name: &str) -> Result<(), PromError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    let rest_ok =
        chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(PromError::MetricName(name.to_owned()))
    }
}

fn check_label_name(name: &str) -> Result<(), PromError> {
    let mut chars = name.chars();
    let first_ok =
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if first_ok && rest_ok && !name.starts_with("__") {
        Ok(())
    } else {
        Err(PromError::LabelName(name.to_owned()))
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn push_label_value(out: &mut String, value: &str) {
    if !value.contains(['\\', '"', '\n']) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes a sample value: whole numbers without a fraction, others in
/// Rust's shortest round-trip form, and `NaN`, `+Inf`, `-Inf`.
fn push_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        push_integer(out, value as i64);
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Writes a whole number in decimal; the formatting machinery of
/// `write!` was most of the time of rendering the 160 request series.
fn push_integer(out: &mut String, value: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut v = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if value < 0 {
        out.push('-');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let mut text = String::new();
        let mut prom = PromText::new(&mut text);
        let cases: [(&str, &str, Result<(), PromError>); 6] = [
            ("ok_total", "l", Ok(())),
            (
                "9bad_total",
                "l",
                Err(PromError::MetricName("9bad_total".into())),
            ),
            ("a-b_total", "l", Err(PromError::MetricName("a-b_total".into()))),
            (
                "no_suffix",
                "l",
                Err(PromError::CounterSuffix("no_suffix".into())),
            ),
            ("x_total", "__l", Err(PromError::LabelName("__l".into()))),
            ("ok_total", "l", Err(PromError::Duplicate("ok_total".into()))),
        ];
        for (name, label, want) in cases {
            let got =
                prom.counter_with_labels(name, "h", &[(&[(label, "v")], 1.0)]);
            assert_eq!(got, want, "{name} {label}");
        }
        assert!(prom.gauge("", "h", 1.0).is_err());
    }

    #[test]
    fn values_and_escapes() {
        let values = [
            (0.0, "0"),
            (3.0, "3"),
            (0.25, "0.25"),
            (1e-7, "0.0000001"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
            (1e20, "100000000000000000000"),
            (-42.0, "-42"),
            (999_999_999_999_999.0, "999999999999999"),
            (-1e15, "-1000000000000000"),
        ];
        for (value, want) in values {
            let mut out = String::new();
            push_value(&mut out, value);
            assert_eq!(out, want);
        }

        let mut text = String::new();
        let mut prom = PromText::new(&mut text);
        let labels: &[(&str, &str)] = &[("v", "a\\b\"c\nd")];
        prom.gauge_with_labels("g", "line\\one\nline two", &[(labels, 1.0)])
            .unwrap();
        let want = concat!(
            "# HELP g line\\\\one\\nline two\n",
            "# TYPE g gauge\n",
            "g{v=\"a\\\\b\\\"c\\nd\"} 1\n"
        );
        assert_eq!(text, want);
    }
}
