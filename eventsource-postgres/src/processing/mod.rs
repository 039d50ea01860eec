//! Projection checkpoints and leases, dead letters and saga instances.

mod dead_letters;
mod projections;
mod sagas;

pub use dead_letters::PgDeadLetterStore;
pub use projections::{PgProjectionBackend, PgProjectionTx};
pub use sagas::PgSagaStore;
