//! [`Tagged`]: a counter that restarts from zero when its period changes.
//!
//! The high bits of one `AtomicU64` hold the period the count belongs to
//! (a window bucket or a UTC day), the low `VALUE_BITS` hold the count.
//! Adding to a counter whose tag is stale replaces it in the same atomic
//! step, so a reset can never lose or double-count an update. Counts
//! saturate at `2^VALUE_BITS - 1`.

use std::sync::atomic::{AtomicU64, Ordering};

use super::shard::Access;

/// A counter tagged with the period it counts for.
#[derive(Debug, Default)]
pub(crate) struct Tagged<const VALUE_BITS: u32>(AtomicU64);

impl<const VALUE_BITS: u32> Tagged<VALUE_BITS> {
    const MASK: u64 = (1 << VALUE_BITS) - 1;
    const TAG_MASK: u64 = u64::MAX >> VALUE_BITS;

    /// Adds `n` to the count of period `tag`, first dropping the count of
    /// any other period.
    pub(crate) fn add(&self, tag: u64, n: u64, access: Access) {
        let tag = tag & Self::TAG_MASK;
        let next = |cur: u64| {
            let old =
                if cur >> VALUE_BITS == tag { cur & Self::MASK } else { 0 };
            tag << VALUE_BITS | old.saturating_add(n).min(Self::MASK)
        };
        match access {
            // The only writer: a load and a store.
            Access::Held => {
                let cur = self.0.load(Ordering::Relaxed);
                self.0.store(next(cur), Ordering::Relaxed);
            }

            // An integer compare-and-swap, so that a reset by one thread
            // never loses another's update.
            Access::Shared => {
                let _ = self.0.fetch_update(
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                    |cur| Some(next(cur)),
                );
            }
        }
    }

    /// Sets the count of period `tag` to `n`.
    pub(crate) fn set(&self, tag: u64, n: u64) {
        let tag = tag & Self::TAG_MASK;
        let value = n.min(Self::MASK);
        self.0.store(tag << VALUE_BITS | value, Ordering::Relaxed);
    }

    /// The count of period `tag`, 0 if the counter holds another period.
    pub(crate) fn get(&self, tag: u64) -> u64 {
        let cur = self.0.load(Ordering::Relaxed);
        if cur >> VALUE_BITS == tag & Self::TAG_MASK {
            cur & Self::MASK
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_when_the_tag_changes() {
        let c = Tagged::<40>::default();
        let steps: [(&str, u64, u64, u64); 5] = [
            ("add", 7, 3, 3),
            ("add", 7, 4, 7),
            ("add", 8, 1, 1),
            ("set", 8, 10, 10),
            ("add", 8, u64::MAX, (1 << 40) - 1),
        ];
        for (op, tag, n, want) in steps {
            if op == "add" {
                let access =
                    if tag == 7 { Access::Held } else { Access::Shared };
                c.add(tag, n, access);
            } else {
                c.set(tag, n);
            }
            assert_eq!(c.get(tag), want, "{op} {tag} {n}");
        }
        assert_eq!(c.get(7), 0);
    }
}
