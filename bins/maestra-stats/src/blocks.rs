//! Reading the input in large blocks of whole lines, and scanning those
//! blocks on several threads while folding their results in file order.
//!
//! Folding in order is what keeps floating-point sums equal to jq's: each
//! block is reduced to per-group lists of values, never to partial sums,
//! and one thread adds them up left to right. Memory stays bounded by the
//! number of blocks in flight, whatever the size of the input.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::thread;

/// Default size of one block: large enough that per-block overhead is
/// noise, small enough that blocks in flight stay a few megabytes.
pub const BLOCK_BYTES: usize = 2 << 20;

/// Cuts a byte stream into blocks that end on a line boundary (the last
/// block may end without a newline).
pub struct Blocks<R> {
    source: R,
    carry: Vec<u8>,
    done: bool,
    block_bytes: usize,
}

impl<R: Read> Blocks<R> {
    /// Reads `source` in blocks of about `block_bytes`.
    pub fn new(source: R, block_bytes: usize) -> Self {
        Self { source, carry: Vec::new(), done: false, block_bytes }
    }

    /// Replaces the contents of `buf` with the next block; `false` once
    /// the input is exhausted. A line longer than a block makes the block
    /// grow to hold it.
    pub fn fill(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        buf.append(&mut self.carry);
        let mut searched = 0;
        while !self.done {
            if buf.len() >= self.block_bytes {
                if let Some(cut) = last_newline(&buf[searched..]) {
                    let cut = searched + cut + 1;
                    self.carry.extend_from_slice(&buf[cut..]);
                    buf.truncate(cut);
                    break;
                }
                searched = buf.len();
            }
            let want = self.block_bytes.saturating_sub(buf.len()).max(1 << 16);
            let read = (&mut self.source).take(want as u64).read_to_end(buf)?;
            self.done = read == 0;
        }
        Ok(!buf.is_empty())
    }
}

fn last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
}

/// Scans every block of `blocks` with `work`, on `threads` threads, and
/// hands each result to `fold` in file order together with the block's
/// length in bytes.
pub fn scan_in_order<R, T, W, F>(
    mut blocks: Blocks<R>,
    threads: usize,
    work: W,
    mut fold: F,
) -> io::Result<()>
where
    R: Read + Send,
    T: Send,
    W: Fn(&[u8]) -> T + Sync,
    F: FnMut(T, usize),
{
    if threads <= 1 {
        let mut buf = Vec::new();
        while blocks.fill(&mut buf)? {
            fold(work(&buf), buf.len());
        }
        return Ok(());
    }

    // Each buffer is a token: a worker needs one to read a block, and the
    // folding thread hands it back once the block is folded. So at most
    // `in_flight` blocks exist at a time, however unevenly threads run.
    let in_flight = threads * 2;
    let (pool_tx, pool_rx) = mpsc::sync_channel::<Vec<u8>>(in_flight);
    for _ in 0..in_flight {
        pool_tx.send(Vec::new()).expect("the pool has room for every token");
    }
    let pool_rx = Mutex::new(pool_rx);
    let reader = Mutex::new(Shared { blocks, next_seq: 0, finished: false });
    let (done_tx, done_rx) = mpsc::channel::<Scanned<T>>();

    thread::scope(|scope| {
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let (pool_rx, reader, work) = (&pool_rx, &reader, &work);
            scope.spawn(move || {
                worker(pool_rx, reader, work, &done_tx);
            });
        }
        drop(done_tx);
        fold_in_order(pool_tx, done_rx, &mut fold)
    })
}

/// The reader state the workers share.
struct Shared<R> {
    blocks: Blocks<R>,
    next_seq: u64,
    finished: bool,
}

/// A scanned block: its number, and its result with the buffer to reuse
/// (or the read error met in its place).
type Scanned<T> = (u64, io::Result<(T, Vec<u8>)>);

type Done<T> = mpsc::Sender<Scanned<T>>;

fn worker<R: Read, T, W: Fn(&[u8]) -> T>(
    pool: &Mutex<mpsc::Receiver<Vec<u8>>>,
    reader: &Mutex<Shared<R>>,
    work: &W,
    done: &Done<T>,
) {
    loop {
        let received =
            pool.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(mut buf) = received else {
            return;
        };

        // Reading stays under the lock so blocks get consecutive numbers
        // in file order; scanning, the costly part, runs outside it.
        let (seq, filled) = {
            let mut shared =
                reader.lock().unwrap_or_else(PoisonError::into_inner);
            if shared.finished {
                return;
            }
            let filled = shared.blocks.fill(&mut buf);
            if !matches!(filled, Ok(true)) {
                shared.finished = true;
            }
            shared.next_seq += 1;
            (shared.next_seq - 1, filled)
        };

        let outcome = match filled {
            Ok(true) => Ok((work(&buf), buf)),
            Ok(false) => return,
            Err(error) => Err(error),
        };
        if done.send((seq, outcome)).is_err() {
            return;
        }
    }
}

fn fold_in_order<T, F: FnMut(T, usize)>(
    pool: mpsc::SyncSender<Vec<u8>>,
    done: mpsc::Receiver<Scanned<T>>,
    fold: &mut F,
) -> io::Result<()> {
    let mut pending = BTreeMap::new();
    let mut next = 0;
    while let Ok((seq, outcome)) = done.recv() {
        pending.insert(seq, outcome);
        while let Some(outcome) = pending.remove(&next) {
            next += 1;
            let (result, buf) = outcome?;
            fold(result, buf.len());

            // Workers may all have stopped; a closed pool is fine then.
            let _ = pool.send(buf);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call, to cut
    /// blocks at awkward places.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn sample() -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..5_000 {
            let line = "x".repeat(i % 97);
            data.extend_from_slice(format!("{i} {line}\n").as_bytes());
        }
        data.extend_from_slice(b"last line without newline");
        data
    }

    #[test]
    fn blocks_end_on_line_boundaries_and_lose_nothing() {
        let data = sample();
        for (block_bytes, step) in
            [(1, 7), (64, 1000), (4096, 13), (1 << 20, 1 << 16)]
        {
            let mut blocks =
                Blocks::new(Trickle { data: &data, step }, block_bytes);
            let mut buf = Vec::new();
            let mut joined = Vec::new();
            while blocks.fill(&mut buf).unwrap() {
                joined.extend_from_slice(&buf);
                if joined.len() < data.len() {
                    assert_eq!(buf.last(), Some(&b'\n'));
                }
            }
            assert_eq!(joined, data, "block_bytes {block_bytes}");
        }
    }

    #[test]
    fn results_fold_in_file_order_on_any_thread_count() {
        let data = sample();
        let want: Vec<String> = String::from_utf8(data.clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        for threads in [1, 2, 3, 8] {
            let blocks = Blocks::new(Trickle { data: &data, step: 333 }, 1000);
            let mut got = Vec::new();
            let mut bytes = 0;
            scan_in_order(
                blocks,
                threads,
                |block| {
                    let text = std::str::from_utf8(block).unwrap();
                    text.lines().map(str::to_owned).collect::<Vec<_>>()
                },
                |lines, len| {
                    got.extend(lines);
                    bytes += len;
                },
            )
            .unwrap();
            assert_eq!(got, want, "threads {threads}");
            assert_eq!(bytes, data.len());
        }
    }

    #[test]
    fn read_errors_reach_the_caller() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                self.0 -= 1;
                out[0] = b'\n';
                Ok(1)
            }
        }
        for threads in [1, 2] {
            let blocks = Blocks::new(Failing(10), 4);
            let error = scan_in_order(blocks, threads, |b| b.len(), |_, _| {})
                .unwrap_err();
            assert_eq!(error.to_string(), "disk on fire");
        }
    }
}
