//! The stores projections and sagas run on: checkpoints and leases in one
//! transaction with a read model (`projections`), parked events
//! (`dead_letters`), saga instances (`sagas`) and operators' control
//! requests (`controls`). Each keeps its statements
//! next to its code.

pub(crate) mod controls;
pub(crate) mod dead_letters;
pub(crate) mod projections;
pub(crate) mod sagas;

pub use controls::PgControlStore;
pub use dead_letters::PgDeadLetterStore;
pub use projections::{PgProjectionBackend, PgProjectionTx};
pub use sagas::PgSagaStore;
