//! How global positions come from transaction ids (see "A global order
//! without gaps" in the crate docs): the constants, defined once.

/// Positions per transaction: transaction `x` owns `[x · SLOTS, (x + 1) · SLOTS)`.
pub(crate) const SLOTS: u64 = 65_536;

/// The most events one transaction can append (its first position, `x ·
/// SLOTS`, is never used).
pub(crate) const MAX_EVENTS_PER_TRANSACTION: usize = 65_535;

/// The transaction that wrote `position`.
pub(crate) fn transaction_of(position: u64) -> u64 {
    position / SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_owns_its_range() {
        assert_eq!(transaction_of(7 * SLOTS), 7);
        assert_eq!(transaction_of(7 * SLOTS + SLOTS - 1), 7);
        assert_eq!(transaction_of(8 * SLOTS), 8);
        assert_eq!(MAX_EVENTS_PER_TRANSACTION as u64, SLOTS - 1);
    }
}
