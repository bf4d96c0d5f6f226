//! Deterministic synthetic metrics records: a week of traffic over several
//! surfaces (one with a non-ASCII name), mostly fractional timestamps with
//! some whole-second ones, some failures with error codes, null
//! conversation ids, and now and then a line with its keys reordered.

use std::io::{self, Write};

/// A small xorshift generator: same seed, same file, on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (zero is replaced, xorshift needs
    /// a set bit).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SURFACES: [&str; 6] =
    ["windsurf", "cursor", "claude_code", "cli", "web", "café"];
const FAILURES: [(u16, &str); 5] = [
    (400, "invalid_request"),
    (401, "unauthorized"),
    (429, "rate_limited"),
    (502, "upstream_error"),
    (500, "internal_error"),
];

/// 2025-12-22T00:00:00Z.
const START: u64 = 1_766_361_600;
const WEEK: u64 = 7 * 86_400;

/// Writes `count` record lines; with `bad_every = Some(k)`, a bad line
/// (torn, blank, garbage or wrongly typed) follows every k-th record.
/// Returns how many bad lines were written.
pub fn write_lines(
    count: u64,
    seed: u64,
    bad_every: Option<u64>,
    out: &mut impl Write,
) -> io::Result<u64> {
    let mut rng = Rng::new(seed);
    let mut bad = 0;
    for i in 0..count {
        let line = record(&mut rng, i, count);
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        if bad_every.is_some_and(|k| (i + 1) % k == 0) {
            let junk = match bad % 4 {
                0 => line[..line.len() / 2].to_owned(),
                1 => String::new(),
                2 => "not json at all".to_owned(),
                _ => line.replace("\"latency_ms\":", "\"latency_ms\":\"x"),
            };
            out.write_all(junk.as_bytes())?;
            out.write_all(b"\n")?;
            bad += 1;
        }
    }
    Ok(bad)
}

fn record(rng: &mut Rng, i: u64, count: u64) -> String {
    let secs = START + i * WEEK / count.max(1);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let day = 22 + (days - START / 86_400);
    let clock = format!(
        "2025-12-{day:02}T{:02}:{:02}:{:02}",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    );
    let timestamp = if rng.below(10) == 0 {
        format!("{clock}Z")
    } else {
        format!("{clock}.{:03}Z", rng.below(1000))
    };

    let surface = SURFACES[(rng.below(36) as usize).min(35) / 6];
    let latency = 15 + rng.below(400) + rng.below(4) * rng.below(900);
    let latency = if rng.below(200) == 0 { latency * 10 } else { latency };
    let (status, error) = if rng.below(25) == 0 {
        let (status, error) = FAILURES[rng.below(5) as usize];
        (status, format!("\"{error}\""))
    } else {
        (200, "null".to_owned())
    };
    let tokens = if status == 200 { 20 + rng.below(2_000) } else { 0 };
    let cost = tokens as f64 / 1000.0 * 0.002;
    let conversation = if rng.below(8) == 0 {
        "null".to_owned()
    } else {
        format!("\"conv_2025-12-{day:02}_u_{:08x}\"", rng.next() as u32)
    };
    let user = format!("user{}", rng.below(50));

    if rng.below(50) == 0 {
        return format!(
            "{{\"cost_usd\":{cost},\"error\":{error},\"status_code\":{status},\
             \"latency_ms\":{latency},\"surface_id\":\"{surface}\",\
             \"timestamp\":\"{timestamp}\",\"user_id\":\"{user}\",\
             \"writer\":\"other\"}}"
        );
    }
    format!(
        "{{\"timestamp\":\"{timestamp}\",\"request_id\":\"req_{i:012x}\",\
         \"surface_id\":\"{surface}\",\"user_id\":\"{user}\",\
         \"conversation_id\":{conversation},\"mode\":\"advisor\",\
         \"latency_ms\":{latency},\"status_code\":{status},\
         \"tokens\":{tokens},\"cost_usd\":{cost},\"error\":{error}}}"
    )
}
