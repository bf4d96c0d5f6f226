//! Arbitrary bytes as a metrics file read forwards: every line is either
//! a record or counted as skipped, and a record read back is written out
//! again as a line the reader takes.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use metrics_core::RecordReader;

fuzz_target!(|data: &[u8]| {
    let mut reader = RecordReader::new(Cursor::new(data));
    let mut records = Vec::new();
    for item in reader.by_ref() {
        records.push(item.expect("reading memory cannot fail"));
    }
    let lines = data.split(|&b| b == b'\n').count()
        - usize::from(data.is_empty() || data.ends_with(b"\n"));
    assert_eq!(records.len() as u64 + reader.skipped(), lines as u64);

    for record in records {
        let mut once = Vec::new();
        record.write_json_line(&mut once);
        assert!(once.ends_with(b"\n"));
        assert_eq!(once.iter().filter(|&&b| b == b'\n').count(), 1);
        let again = RecordReader::new(Cursor::new(&once))
            .next()
            .expect("a written line is read back")
            .expect("no I/O error");
        let mut twice = Vec::new();
        again.write_json_line(&mut twice);
        assert_eq!(once, twice, "writing is not stable");
    }
});
