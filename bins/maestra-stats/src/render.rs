//! Printing an answer: JSON shaped like the note's jq output, or an
//! aligned table for people.

use serde::Serialize;

use crate::analysis::{Answer, Latency, Summary};

/// The answer as pretty JSON with the keys, in the order, that the note's
/// jq command for the same question prints.
pub fn json(answer: &Answer) -> String {
    #[derive(Serialize)]
    struct StatusCount {
        status: i64,
        count: u64,
    }
    #[derive(Serialize)]
    struct ErrorCount<'a> {
        error: &'a str,
        count: u64,
    }
    #[derive(Serialize)]
    struct SurfaceCount<'a> {
        surface: &'a str,
        count: u64,
    }
    #[derive(Serialize)]
    struct DateCost<'a> {
        date: &'a str,
        cost: f64,
    }
    #[derive(Serialize)]
    struct SurfaceCost<'a> {
        surface: &'a str,
        cost: f64,
    }

    let mut text = match answer {
        Answer::Summary(summary) => pretty(summary),
        Answer::Latency(latency) => pretty(latency),
        Answer::StatusCounts(rows) => pretty(
            &rows
                .iter()
                .map(|&(status, count)| StatusCount { status, count })
                .collect::<Vec<_>>(),
        ),
        Answer::ErrorCounts(rows) => pretty(
            &rows
                .iter()
                .map(|(error, count)| ErrorCount { error, count: *count })
                .collect::<Vec<_>>(),
        ),
        Answer::SurfaceCounts(rows) => pretty(
            &rows
                .iter()
                .map(|(surface, count)| SurfaceCount { surface, count: *count })
                .collect::<Vec<_>>(),
        ),
        Answer::DayCosts(rows) => pretty(
            &rows
                .iter()
                .map(|(date, cost)| DateCost { date, cost: *cost })
                .collect::<Vec<_>>(),
        ),
        Answer::SurfaceCosts(rows) => pretty(
            &rows
                .iter()
                .map(|(surface, cost)| SurfaceCost { surface, cost: *cost })
                .collect::<Vec<_>>(),
        ),
    };

    text.push('\n');
    text
}

/// Serializes straight to text (a `serde_json::Value` would sort keys).
fn pretty<T: Serialize>(value: &T) -> String {
    // Plain structs of numbers and strings always serialize.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The answer as text for people: the note's awk lines for latency, a
/// two-column table otherwise.
pub fn table(answer: &Answer) -> String {
    match answer {
        Answer::Summary(summary) => summary_table(summary),
        Answer::Latency(latency) => latency_lines(latency),
        Answer::StatusCounts(rows) => columns(
            ["STATUS", "REQUESTS"],
            rows.iter().map(|(s, n)| [s.to_string(), n.to_string()]),
        ),
        Answer::ErrorCounts(rows) => columns(
            ["ERROR", "REQUESTS"],
            rows.iter().map(|(e, n)| [e.clone(), n.to_string()]),
        ),
        Answer::SurfaceCounts(rows) => columns(
            ["SURFACE", "REQUESTS"],
            rows.iter().map(|(s, n)| [s.clone(), n.to_string()]),
        ),
        Answer::DayCosts(rows) => columns(
            ["DATE", "COST_USD"],
            rows.iter().map(|(d, c)| [d.clone(), format!("{c:.6}")]),
        ),
        Answer::SurfaceCosts(rows) => columns(
            ["SURFACE", "COST_USD"],
            rows.iter().map(|(s, c)| [s.clone(), format!("{c:.6}")]),
        ),
    }
}

fn latency_lines(latency: &Latency) -> String {
    let rows = [
        ("Min", latency.min),
        ("P50", latency.p50),
        ("P95", latency.p95),
        ("P99", latency.p99),
        ("Max", latency.max),
    ];
    if latency.min.is_none() {
        return "no records\n".to_owned();
    }
    let mut text = String::new();
    for (label, value) in rows {
        let value = value.map(|v| v.to_string()).unwrap_or_default();
        text.push_str(&format!("{label}: {value}\n"));
    }
    text
}

fn summary_table(summary: &Summary) -> String {
    let avg = match summary.avg_latency_ms {
        Some(avg) => format!("{avg:.2}"),
        None => "-".to_owned(),
    };
    let rows = [
        ["requests".to_owned(), summary.requests.to_string()],
        ["errors".to_owned(), summary.errors.to_string()],
        ["status >= 400".to_owned(), summary.status_errors.to_string()],
        ["avg latency ms".to_owned(), avg],
        ["total cost usd".to_owned(), format!("{:.6}", summary.total_cost_usd)],
    ];
    aligned(rows.into_iter())
}

/// A header and rows: the first column left-aligned, the second (a
/// number) right-aligned.
fn columns(
    header: [&str; 2],
    rows: impl Iterator<Item = [String; 2]>,
) -> String {
    let header = [header[0].to_owned(), header[1].to_owned()];
    aligned(std::iter::once(header).chain(rows))
}

fn aligned(rows: impl Iterator<Item = [String; 2]>) -> String {
    let rows: Vec<[String; 2]> = rows.collect();
    let width = |col: usize| {
        rows.iter().map(|row| display_width(&row[col])).max().unwrap_or(0)
    };
    let (left, right) = (width(0), width(1));

    let mut text = String::new();
    for [key, value] in &rows {
        let key_pad = left - display_width(key);
        let value_pad = right - display_width(value);
        text.push_str(key);
        text.extend(std::iter::repeat_n(' ', key_pad + 2 + value_pad));
        text.push_str(value);
        text.push('\n');
    }
    text
}

/// Columns a terminal gives `text`: two for East Asian wide characters
/// (CJK, Hangul, fullwidth forms, most emoji), one for the rest.
/// Combining marks are counted as one column, a known approximation.
fn display_width(text: &str) -> usize {
    text.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(
        u32::from(c),
        0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_follow_the_note() {
        let cases = [
            (
                Answer::SurfaceCounts(vec![("cli".into(), 2)]),
                r#"[{"surface":"cli","count":2}]"#,
            ),
            (
                Answer::StatusCounts(vec![(200, 3), (502, 1)]),
                r#"[{"status":200,"count":3},{"status":502,"count":1}]"#,
            ),
            (
                Answer::ErrorCounts(vec![("boom".into(), 1)]),
                r#"[{"error":"boom","count":1}]"#,
            ),
            (
                Answer::DayCosts(vec![("2025-12-28".into(), 0.5)]),
                r#"[{"date":"2025-12-28","cost":0.5}]"#,
            ),
            (
                Answer::SurfaceCosts(vec![("cli".into(), 0.5)]),
                r#"[{"surface":"cli","cost":0.5}]"#,
            ),
            (
                Answer::Latency(Latency::default()),
                r#"{"min":null,"p50":null,"p95":null,"p99":null,"max":null}"#,
            ),
            (Answer::DayCosts(vec![]), "[]"),
        ];
        for (answer, want) in cases {
            let compact: String =
                json(&answer).split_whitespace().collect::<Vec<_>>().join("");
            assert_eq!(compact, want);
        }
    }

    #[test]
    fn tables_align() {
        let answer = Answer::SurfaceCounts(vec![
            ("cli".into(), 12_345),
            ("windsurf-é".into(), 7),
            ("日本".into(), 30),
        ]);
        let want = "\
SURFACE     REQUESTS
cli            12345
windsurf-é         7
日本              30
";
        assert_eq!(table(&answer), want);
    }

    #[test]
    fn latency_reads_like_the_note_awk() {
        let latency = Latency {
            min: Some(1),
            p50: Some(20),
            p95: Some(300),
            p99: Some(400),
            max: Some(5000),
        };
        let want = "Min: 1\nP50: 20\nP95: 300\nP99: 400\nMax: 5000\n";
        assert_eq!(table(&Answer::Latency(latency)), want);
    }
}
