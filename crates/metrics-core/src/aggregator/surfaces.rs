//! [`SurfaceTable`]: a bounded set of surface names, claimed lock-free.
//!
//! A fixed number of slots; a name takes the first free slot of its probe
//! sequence once, through `OnceLock`, and is found again by comparing the
//! stored hash and name. Nothing is locked when a name is already known.
//! Once every slot is taken, further names count as `other`.

use std::sync::OnceLock;

use super::hash::hash_str;

/// The label that surfaces beyond the cap fold into.
pub const OTHER_SURFACE: &str = "other";

/// A claimed slot: the name's hash and the name.
type Claim = OnceLock<(u64, Box<str>)>;

/// Names of the surfaces seen so far, at most `cap` of them.
#[derive(Debug)]
pub(crate) struct SurfaceTable {
    slots: Box<[Claim]>,
}

impl SurfaceTable {
    /// A table for `cap` distinct surfaces.
    pub(crate) fn new(cap: usize) -> Self {
        SurfaceTable { slots: (0..cap).map(|_| OnceLock::new()).collect() }
    }

    /// Index of the `other` row, one past the named slots.
    pub(crate) fn other(&self) -> usize {
        self.slots.len()
    }

    /// Number of rows (named slots plus `other`).
    pub(crate) fn rows(&self) -> usize {
        self.slots.len() + 1
    }

    /// The row of `name`, claiming a slot for it if one is free.
    pub(crate) fn row_of(&self, name: &str) -> usize {
        let cap = self.slots.len();
        if cap == 0 || name == OTHER_SURFACE {
            return self.other();
        }
        let hash = hash_str(name);

        // The high half of hash x cap maps the hash onto 0..cap evenly,
        // without the division that `%` costs on every `record`.
        let start = ((u128::from(hash) * cap as u128) >> 64) as usize;

        for step in 0..cap {
            let row = start + step;
            let row = if row >= cap { row - cap } else { row };
            let slot = &self.slots[row];

            // A free slot is claimed here; the name is allocated once per
            // surface, never again on later requests.
            let (h, stored) = slot.get_or_init(|| (hash, Box::from(name)));
            if *h == hash && **stored == *name {
                return row;
            }
        }
        self.other()
    }

    /// The name of `row`, `None` for a slot not yet claimed.
    pub(crate) fn name(&self, row: usize) -> Option<&str> {
        match self.slots.get(row) {
            Some(slot) => slot.get().map(|(_, n)| &**n),
            None => Some(OTHER_SURFACE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_names_beyond_the_cap() {
        let table = SurfaceTable::new(3);
        let names = ["a", "b", "c", "d", "a", "other", "c", "e"];
        let rows: Vec<_> = names.iter().map(|n| table.row_of(n)).collect();

        let named: Vec<_> =
            rows.iter().map(|&r| table.name(r).unwrap()).collect();
        let want = ["a", "b", "c", "other", "a", "other", "c", "other"];
        assert_eq!(named, want);
        assert_eq!(rows[0], rows[4]);
    }

    #[test]
    fn zero_cap_sends_everything_to_other() {
        let table = SurfaceTable::new(0);
        assert_eq!(table.name(table.row_of("x")), Some("other"));
        assert_eq!(table.rows(), 1);
    }
}
