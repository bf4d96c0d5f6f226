//! Reading the metrics file back: [`RecordReader`] streams records and
//! skips bad lines; [`today_totals`] recovers the current UTC day's spend
//! from the end of the file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use time::Date;

use crate::record::RequestRecord;

/// Streams [`RequestRecord`]s from JSONL text, one per line.
///
/// Lines that do not hold a record (blank lines, garbage, the torn last
/// line left by a crash) are skipped and counted in
/// [`skipped`](RecordReader::skipped). An I/O error is yielded as `Err`.
/// A line is held in memory whole, however long it is.
#[derive(Debug)]
pub struct RecordReader<R> {
    inner: R,
    line: Vec<u8>,
    skipped: u64,
}

impl RecordReader<BufReader<File>> {
    /// A reader of the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(RecordReader::new(BufReader::new(File::open(path)?)))
    }
}

impl<R: BufRead> RecordReader<R> {
    /// A reader of `inner` (wrap a plain `Read` in a `BufReader`).
    pub fn new(inner: R) -> Self {
        RecordReader { inner, line: Vec::new(), skipped: 0 }
    }

    /// Lines skipped so far because they held no record.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = io::Result<RequestRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.line.clear();
            match self.inner.read_until(b'\n', &mut self.line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            }
            match parse_line(&self.line) {
                Some(record) => return Some(Ok(record)),
                None => self.skipped += 1,
            }
        }
    }
}

/// The record on `line` (newline included or not), `None` if it holds
/// none.
fn parse_line(line: &[u8]) -> Option<RequestRecord> {
    serde_json::from_slice(line.trim_ascii_end()).ok()
}

/// Spend of one UTC day as read from the metrics file.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DayTotals {
    /// Sum of `cost_usd`, added in the file's order.
    pub cost_usd: f64,
    /// Records of the day.
    pub requests: u64,
}

/// Bytes read per step when scanning backwards.
const BLOCK: usize = 64 * 1024;

/// The records of UTC day `today` at the end of the file at `path`.
///
/// Reads backwards in 64 KiB blocks and stops at the first record of an
/// earlier day, so the time taken follows the size of the last day, not
/// of the file. Bad lines (a torn last line included) are skipped;
/// records dated after `today` are ignored. It relies on records being
/// appended in time order: a record of `today` written before an older
/// one is not seen.
pub fn today_totals(
    path: impl AsRef<Path>,
    today: Date,
) -> io::Result<DayTotals> {
    let mut file = File::open(path)?;
    let mut pos = file.metadata()?.len();
    let mut block = vec![0u8; BLOCK];
    let mut tail: Vec<u8> = Vec::new();

    // Costs are gathered newest first and summed oldest first, as a
    // forward reader would add them.
    let mut costs = Vec::new();
    let mut visit = |line: &[u8]| -> bool {
        let Some(record) = parse_line(line) else { return true };
        let day = record.timestamp.date();
        if day == today {
            costs.push(record.cost_usd);
        }
        day >= today
    };

    'scan: loop {
        if pos == 0 {
            visit(&tail);
            break;
        }
        let n = BLOCK.min(usize::try_from(pos).unwrap_or(BLOCK));
        pos -= n as u64;
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut block[..n])?;

        let mut data = Vec::with_capacity(n + tail.len());
        data.extend_from_slice(&block[..n]);
        data.extend_from_slice(&tail);

        // Every segment after a newline is a whole line; the part before
        // the first newline may start in the previous block.
        let mut end = data.len();
        while let Some(nl) = data[..end].iter().rposition(|&b| b == b'\n') {
            if !visit(&data[nl + 1..end]) {
                break 'scan;
            }
            end = nl;
        }
        data.truncate(end);
        tail = data;
    }

    Ok(DayTotals {
        cost_usd: costs.iter().rev().sum(),
        requests: costs.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn skips_and_counts_bad_lines() {
        let good = concat!(
            r#"{"timestamp":"2025-12-28T15:30:00Z","request_id":"r","#,
            r#""surface_id":"s","user_id":"u","conversation_id":null,"#,
            r#""mode":"m","latency_ms":1,"status_code":200,"tokens":1,"#,
            r#""cost_usd":0.5,"error":null}"#
        );
        let cases = [
            (format!("{good}\n{good}\n"), 2, 0),
            (format!("{good}\r\n\n  \n{good}"), 2, 2),
            (format!("garbage\n{good}\n{{\"timestamp\""), 1, 2),
            (format!("\u{fffd}\n{}", &good[..40]), 0, 2),
            (String::new(), 0, 0),
        ];
        for (text, records, skipped) in cases {
            let mut reader = RecordReader::new(Cursor::new(text.clone()));
            let got: Vec<_> =
                reader.by_ref().collect::<io::Result<_>>().unwrap();
            let got = got.len();
            assert_eq!((got, reader.skipped()), (records, skipped), "{text}");
        }
    }
}
