//! Activation memory reuse: tensors whose lifetimes do not overlap share a buffer.

/// A tensor to place: its size and the steps at which it is first written and last read.
#[derive(Clone, Copy, Debug)]
pub struct Lifetime {
    pub bytes: u64,
    pub first: usize,
    pub last: usize,
}

/// Where each tensor lives: `slot_of[i]` indexes `slot_bytes`, one GPU buffer per slot.
#[derive(Debug)]
pub struct Arena {
    pub slot_bytes: Vec<u64>,
    pub slot_of: Vec<usize>,
}

impl Arena {
    /// Greedy placement in order of first use: a tensor takes the smallest free slot that
    /// is big enough, else grows the biggest free slot, else opens a new one. Two tensors
    /// alive at the same step never share a slot, so no dispatch reads and writes one buffer.
    pub fn plan(lifetimes: &[Lifetime]) -> Arena {
        let mut order: Vec<usize> = (0..lifetimes.len()).collect();
        order.sort_by_key(|&i| (lifetimes[i].first, i));
        let mut slot_bytes: Vec<u64> = Vec::new();
        let mut busy_until: Vec<usize> = Vec::new(); // last step of the slot's current tensor
        let mut slot_of = vec![usize::MAX; lifetimes.len()];
        for i in order {
            let t = lifetimes[i];
            let free: Vec<usize> = (0..slot_bytes.len()).filter(|&s| busy_until[s] < t.first).collect();
            let fitting = free.iter().copied().filter(|&s| slot_bytes[s] >= t.bytes).min_by_key(|&s| slot_bytes[s]);
            let slot = match fitting.or_else(|| free.iter().copied().max_by_key(|&s| slot_bytes[s])) {
                Some(s) => s,
                None => {
                    slot_bytes.push(0);
                    busy_until.push(0);
                    slot_bytes.len() - 1
                }
            };
            slot_bytes[slot] = slot_bytes[slot].max(t.bytes);
            busy_until[slot] = t.last;
            slot_of[i] = slot;
        }
        Arena { slot_bytes, slot_of }
    }

    pub fn total_bytes(&self) -> u64 {
        self.slot_bytes.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_tensors_never_share_and_dead_ones_are_reused() {
        let l = |bytes, first, last| Lifetime { bytes, first, last };
        let lifetimes = [l(100, 0, 1), l(50, 1, 2), l(80, 2, 3), l(100, 3, 4)];
        let arena = Arena::plan(&lifetimes);
        for i in 0..lifetimes.len() {
            for j in 0..i {
                let overlap = lifetimes[i].first <= lifetimes[j].last && lifetimes[j].first <= lifetimes[i].last;
                if overlap {
                    assert_ne!(arena.slot_of[i], arena.slot_of[j], "{i} and {j} overlap");
                }
            }
        }
        assert_eq!(arena.slot_bytes.len(), 2);
        assert_eq!(arena.total_bytes(), 200);
    }
}
