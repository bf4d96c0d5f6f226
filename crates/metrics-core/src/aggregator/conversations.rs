//! [`ConversationTable`]: approximate count of recently active
//! conversations in fixed memory.
//!
//! An open-addressing table of `(hash, last_seen)` atomic pairs. A
//! conversation id is hashed to 64 bits and looked up within a probe run
//! of 16 slots; a slot whose conversation expired is reused.
//!
//! Approximations, stated: two ids with the same 64-bit hash count once;
//! when all 16 slots of a probe run hold live conversations, a new one is
//! not counted (and is counted in `untracked`) until a slot expires, so a
//! full table under-counts. Time is kept in whole seconds.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::hash::hash_str;

const PROBE: usize = 16;

#[derive(Debug, Default)]
struct Slot {
    /// Hash of the conversation id, never 0 once claimed.
    hash: AtomicU64,
    /// Second of the last request of that conversation.
    seen: AtomicI64,
}

/// Last-seen times of conversations, bounded in size.
#[derive(Debug)]
pub(crate) struct ConversationTable {
    slots: Box<[Slot]>,
    mask: usize,
    ttl_s: i64,
    untracked: AtomicU64,
}

impl ConversationTable {
    /// A table of `capacity` slots (rounded up to a power of two, at least
    /// 16) where a conversation stays active for `ttl_s` seconds.
    pub(crate) fn new(capacity: usize, ttl_s: i64) -> Self {
        let size = capacity.max(PROBE).next_power_of_two();
        ConversationTable {
            slots: (0..size).map(|_| Slot::default()).collect(),
            mask: size - 1,
            ttl_s,
            untracked: AtomicU64::new(0),
        }
    }

    fn expired(&self, seen: i64, now_s: i64) -> bool {
        now_s.saturating_sub(seen) > self.ttl_s
    }

    /// Marks conversation `id` as seen at second `now_s`.
    pub(crate) fn touch(&self, id: &str, now_s: i64) {
        let hash = hash_str(id) | 1;
        let start = hash as usize & self.mask;
        let mut free = None;

        // Look through the whole run before claiming, so that an id never
        // gets a second slot ahead of its live one.
        for step in 0..PROBE {
            let index = (start + step) & self.mask;
            let slot = &self.slots[index];
            let held = slot.hash.load(Ordering::Acquire);
            if held == hash {
                bump(slot, now_s);
                return;
            }
            let reusable = held == 0
                || self.expired(slot.seen.load(Ordering::Relaxed), now_s);
            if reusable && free.is_none() {
                free = Some((index, held));
            }

            // Slots are never emptied, so nothing lies past an empty one.
            if held == 0 {
                break;
            }
        }

        let claimed = free.is_some_and(|(index, held)| {
            let slot = &self.slots[index];
            let won = slot
                .hash
                .compare_exchange(
                    held,
                    hash,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .map_or_else(|now| now == hash, |_| true);
            if won {
                slot.seen.store(now_s, Ordering::Relaxed);
            }
            won
        });
        if !claimed {
            self.untracked.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Conversations seen within the TTL before `now_s`.
    pub(crate) fn active(&self, now_s: i64) -> u64 {
        let live = self.slots.iter().filter(|slot| {
            slot.hash.load(Ordering::Acquire) != 0
                && !self.expired(slot.seen.load(Ordering::Relaxed), now_s)
        });
        live.count() as u64
    }

    /// Requests whose conversation found no slot.
    pub(crate) fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }
}

/// Moves `slot`'s last-seen time forward, writing only when it changes so
/// that a busy conversation does not keep a shared cache line dirty.
fn bump(slot: &Slot, now_s: i64) {
    if slot.seen.load(Ordering::Relaxed) < now_s {
        slot.seen.fetch_max(now_s, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_ids_within_the_ttl() {
        let table = ConversationTable::new(1024, 1800);
        let steps: [(i64, &str, u64); 6] = [
            (0, "a", 1),
            (10, "b", 2),
            (20, "a", 2),
            (1810, "c", 3),
            (1821, "d", 2),
            (3700, "e", 1),
        ];
        for (now, id, want) in steps {
            table.touch(id, now);
            assert_eq!(table.active(now), want, "at {now} after {id}");
        }
    }

    #[test]
    fn a_full_table_undercounts_and_says_so() {
        let table = ConversationTable::new(16, 60);
        (0..100).for_each(|i| table.touch(&format!("c{i}"), 0));
        assert_eq!(table.active(0), 16);
        assert_eq!(table.untracked(), 84);

        // Expired slots are reused.
        table.touch("late", 100);
        assert_eq!(table.active(100), 1);
    }
}
