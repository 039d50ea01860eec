//! The stores projections and sagas run on: checkpoints and leases in one
//! transaction with a read model (`projections`), parked events
//! (`dead_letters`) and saga instances (`sagas`). Each keeps its statements
//! next to its code.

pub(crate) mod dead_letters;
pub(crate) mod projections;
pub(crate) mod sagas;

pub use dead_letters::PgDeadLetterStore;
pub use projections::{PgProjectionBackend, PgProjectionTx};
pub use sagas::PgSagaStore;
