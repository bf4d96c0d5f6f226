//! Shared pieces of the peer benchmarks: the sample request, the label
//! sets, an allocation-counting allocator and a resident-size probe.
//!
//! ```
//! let record = maestra_benches::sample_record();
//! assert_eq!(record.status_code, 200);
//! assert_eq!(maestra_benches::surface_names(3)[2], "surface_02");
//! ```

#![allow(unsafe_code)]

pub mod record_peers;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use metrics_core::RequestRecord;
use time::macros::datetime;

/// One successful chat request, as the server records it.
pub fn sample_record() -> RequestRecord {
    RequestRecord {
        timestamp: datetime!(2025-12-28 15:30:00.123 UTC),
        request_id: "req_3f9a0c12b7e4".into(),
        surface_id: "windsurf".into(),
        user_id: "justinharmon".into(),
        conversation_id: Some("conv_2025-12-28_jh_abc12345".into()),
        mode: "advisor".into(),
        latency_ms: 234,
        status_code: 200,
        tokens: 150,
        cost_usd: 0.0003,
        error: None,
    }
}

/// `n` distinct surface names, `surface_00`, `surface_01`, ...
pub fn surface_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("surface_{i:02}")).collect()
}

/// Status classes as the `status` label writes them.
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The class label of an HTTP status.
pub fn class_label(status: u16) -> &'static str {
    CLASSES[usize::from(status / 100).clamp(1, 5) - 1]
}

/// Resident set size of this process in KiB, from `/proc/self/status`;
/// `None` where that file does not exist.
pub fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time this thread has run (`CLOCK_THREAD_CPUTIME_ID`); `None`
/// where the system does not offer it.
///
/// Unlike wall time it leaves out the time the thread waited for a core,
/// which on a shared machine is most of the noise, while stalls on a
/// cache line that another core holds still count.
pub fn thread_cpu_time() -> Option<std::time::Duration> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration,
    // and the clock id is a constant the C library defines.
    let rc =
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(std::time::Duration::new(secs, nanos))
}

thread_local! {
    // Const-initialised and without a destructor, so the allocator can
    // touch it at any point of a thread's life without allocating.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// A global allocator that counts, per thread, the allocations made
/// through it, then hands them to the system allocator.
///
/// Install it in a test or bench binary with
/// `#[global_allocator] static A: CountingAlloc = CountingAlloc;`, then
/// compare [`CountingAlloc::count`] before and after the code under test.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

impl CountingAlloc {
    /// Allocations (and reallocations) made by this thread so far.
    pub fn count() -> u64 {
        ALLOCATIONS.with(Cell::get)
    }

    fn note() {
        // `try_with`: during thread teardown the slot may be gone; such
        // late allocations are simply not counted.
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds
// the `GlobalAlloc` contract; the counting touches only a thread-local
// `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::note();
        // SAFETY: the caller's guarantees about `layout` pass through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::note();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(
        &self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        Self::note();
        // SAFETY: `ptr` came from `System` through this allocator and the
        // caller's guarantees about the sizes pass through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_labels() {
        let cases = [(99, "1xx"), (200, "2xx"), (404, "4xx"), (999, "5xx")];
        for (status, want) in cases {
            assert_eq!(class_label(status), want, "{status}");
        }
    }

    #[test]
    fn reads_its_own_cpu_time() {
        if cfg!(target_os = "linux") {
            let before = thread_cpu_time().unwrap();
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(20) {}
            assert!(thread_cpu_time().unwrap() > before);
        }
    }

    #[test]
    fn reads_its_own_resident_size() {
        if cfg!(target_os = "linux") {
            assert!(vm_rss_kib().is_some_and(|kib| kib > 0));
        }
    }
}
