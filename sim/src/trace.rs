//! What a run did, folded into one number: two runs of a seed that did the
//! same things in the same order have the same hash.

/// A 64-bit FNV-1a hash, fed piece by piece. Its value depends on nothing
/// but the bytes fed, unlike the standard library's hashers, which may
/// change between Rust releases.
#[derive(Clone, Debug)]
pub struct Trace {
    hash: u64,
    entries: u64,
}

impl Default for Trace {
    fn default() -> Self {
        Self {
            hash: 0xcbf2_9ce4_8422_2325,
            entries: 0,
        }
    }
}

impl Trace {
    /// Feeds one entry.
    pub fn record(&mut self, entry: &str) {
        for byte in entry.bytes().chain([0u8]) {
            self.hash ^= u64::from(byte);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.entries += 1;
    }

    /// The hash so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many entries were fed.
    pub fn entries(&self) -> u64 {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matters_and_equal_input_hashes_equal() {
        let hash = |entries: &[&str]| {
            let mut trace = Trace::default();
            entries.iter().for_each(|e| trace.record(e));
            trace.hash()
        };
        assert_eq!(hash(&["a", "b"]), hash(&["a", "b"]));
        assert_ne!(hash(&["a", "b"]), hash(&["b", "a"]));
        assert_ne!(hash(&["ab"]), hash(&["a", "b"]));
    }
}
