//! Partitions of the global log: which stream goes where, by a stable hash.
//!
//! A stream belongs to one of [`BUCKETS`] buckets, a function of its id
//! alone; a partitioned reader with `count` partitions reads, as partition
//! `index`, the buckets `b` with `b % count == index`. Every event of a
//! stream is in one partition, so the order within a stream holds for
//! whoever processes that partition.
//!
//! # The hash
//!
//! The bucket of a stream is the first two bytes of the MD5 digest of its
//! id's UTF-8 bytes, read as a big-endian number, modulo 1024:
//!
//! ```text
//! bucket(stream_id) = (md5(stream_id)[0] * 256 + md5(stream_id)[1]) % 1024
//! ```
//!
//! MD5 is a fixed standard: the bucket is the same in every process, on
//! every platform and in every version of this crate (unlike the standard
//! library's `RandomState`, seeded per process, or PostgreSQL's internal
//! `hashtext`, whose result depends on the server's byte order). It is not
//! used for security. A store can compute it where the events are: the
//! PostgreSQL store keeps it as a generated column,
//! `(get_byte(decode(md5(stream_id), 'hex'), 0) * 256 + get_byte(..., 1)) % 1024`,
//! with an index, so a reader of some partitions reads only their rows.
//!
//! ```
//! use eventsource::store::{PartitionFilter, stream_bucket};
//!
//! // md5("order-1") begins with the bytes 0x6e 0x7f: 0x6e7f % 1024 = 639.
//! assert_eq!(stream_bucket("order-1"), 639);
//! let last = PartitionFilter::new(639 % 4, 4)?;
//! assert!(last.contains("order-1"));
//! # Ok::<(), eventsource::store::InvalidPartition>(())
//! ```

use md5::{Digest, Md5};
use thiserror::Error;

/// How many buckets streams hash into; the most partitions a reader can have.
pub const BUCKETS: u32 = 1024;

/// The bucket of stream `stream_id` (see the module docs for the hash).
pub fn stream_bucket(stream_id: &str) -> u16 {
    let digest = Md5::digest(stream_id.as_bytes());
    let high = u32::from(digest[0]) << 8 | u32::from(digest[1]);
    // Below 1024: fits.
    u16::try_from(high % BUCKETS).unwrap_or(0)
}

/// The partition, among `count`, of stream `stream_id`. `count` 0 is taken as 1.
pub fn partition_of(stream_id: &str, count: u32) -> u32 {
    u32::from(stream_bucket(stream_id)) % count.max(1)
}

/// One partition of the log, `index` of `count`: the events of the streams
/// whose bucket is `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartitionFilter {
    index: u32,
    count: u32,
}

/// A partition that cannot exist.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidPartition {
    /// No partitions, or more than there are buckets.
    #[error("{0} partitions: a partitioned reader has from 1 to {BUCKETS} partitions")]
    Count(u32),
    /// An index past the last partition.
    #[error("partition {index} of {count}: partitions are numbered from 0 to {}", count - 1)]
    Index {
        /// The index asked for.
        index: u32,
        /// The number of partitions.
        count: u32,
    },
}

impl PartitionFilter {
    /// Partition `index` (from 0) of `count` (from 1 to [`BUCKETS`]).
    pub fn new(index: u32, count: u32) -> Result<Self, InvalidPartition> {
        if count == 0 || count > BUCKETS {
            return Err(InvalidPartition::Count(count));
        }
        if index >= count {
            return Err(InvalidPartition::Index { index, count });
        }
        Ok(Self { index, count })
    }

    /// The partition's number, from 0.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many partitions there are.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether the events of stream `stream_id` are in this partition.
    pub fn contains(&self, stream_id: &str) -> bool {
        partition_of(stream_id, self.count) == self.index
    }

    /// The buckets of this partition, ascending.
    pub fn buckets(&self) -> Vec<u16> {
        (0..BUCKETS)
            .filter(|b| b % self.count == self.index)
            .filter_map(|b| u16::try_from(b).ok())
            .collect()
    }
}

impl std::fmt::Display for PartitionFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_fixed_values_of_md5() {
        // md5("") = d41d8cd9...: 0xd41d % 1024 = 29.
        assert_eq!(stream_bucket(""), 0xd41d % 1024);
        // md5("a") = 0cc175b9...: 0x0cc1 % 1024 = 193.
        assert_eq!(stream_bucket("a"), 0x0cc1 % 1024);
    }

    #[test]
    fn partitions_cover_every_bucket_once() {
        let count = 3;
        let mut all: Vec<u16> = (0..count)
            .flat_map(|i| {
                PartitionFilter::new(i, count)
                    .map(|p| p.buckets())
                    .unwrap_or_default()
            })
            .collect();
        all.sort_unstable();
        assert_eq!(all.len(), BUCKETS as usize);
        all.dedup();
        assert_eq!(all.len(), BUCKETS as usize);
    }

    #[test]
    fn bad_partitions_are_refused() {
        assert_eq!(PartitionFilter::new(0, 0), Err(InvalidPartition::Count(0)));
        assert_eq!(
            PartitionFilter::new(4, 4),
            Err(InvalidPartition::Index { index: 4, count: 4 })
        );
        assert!(PartitionFilter::new(0, BUCKETS + 1).is_err());
    }
}
