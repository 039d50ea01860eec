//! Operations on a running application: one library API under the admin
//! CLI and the web console of `eventsource-admin`, usable from scripts too.
//!
//! [`Operations`] gathers what an operator needs from the stores: the event
//! store, the projection catalog (versions, checkpoints, leases), the
//! control store through which projections of *any* process are paused,
//! resumed, rebuilt, reset and retried, the dead letters, the saga
//! instances and, on stores that have them, the schema migrations. It
//! reads the program's [`Registry`] to decode events and to say what the
//! store holds that this program could not decode ([`Operations::check`]).
//!
//! ```
//! use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
//! use eventsource::ops::Operations;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = InMemoryStore::new();
//! let ops = Operations::new(store.clone()).with_catalog(InMemoryProjectionBackend::new());
//! let report = ops.check().await?;
//! assert!(report.passed());
//! # Ok::<(), eventsource::ops::OpsError>(())
//! # }).unwrap();
//! ```

mod archive;
mod check;
mod dead_letters;
mod error;
mod events;
mod lifecycle;
mod migrations;
mod projections;
mod registry;
mod sagas;

use std::sync::Arc;

use crate::clock::Clock;
use crate::memory::InMemoryDeadLetterStore;
use crate::projection::{
    ControlStore, DeadLetterStore, InMemoryControlStore, ProjectionCatalog, ProjectionRunner,
};
use crate::registry::Registry;
use crate::saga::SagaStore;
use crate::shredding::KeyStore;
use crate::store::{EventStore, IntoEventStore};

pub use check::{CheckProblem, CheckReport};
pub use dead_letters::DeadLetter;
pub use error::OpsError;
pub use events::{EventView, TailFrom};
pub use lifecycle::LifecycleReport;
pub use migrations::{MigrationState, Migrations};
pub use projections::Until;
pub use projections::{
    PartitionInfo, ProjectionInfo, ProjectionKind, ProjectionPhase, RebuildState,
};
pub use registry::{
    AggregateEntry, CommandEntry, EventEntry, HandlerEntry, RegistryView, UpcasterEntry,
    registry_view,
};
pub use sagas::SagaInstanceView;

/// The operations API over an application's stores.
///
/// Cloning shares the stores.
#[derive(Clone)]
pub struct Operations {
    store: Arc<dyn EventStore>,
    catalogs: Vec<Arc<dyn ProjectionCatalog>>,
    control: Arc<dyn ControlStore>,
    dead_letters: Arc<dyn DeadLetterStore>,
    sagas: Option<Arc<dyn crate::saga::SagaStore>>,
    migrations: Option<Arc<dyn Migrations>>,
    keys: Option<Arc<dyn KeyStore>>,
    snapshots: Option<Arc<dyn crate::store::SnapshotStore>>,
    registry: &'static Registry,
    clock: Clock,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations")
            .field("catalogs", &self.catalogs.len())
            .field("sagas", &self.sagas.is_some())
            .field("migrations", &self.migrations.is_some())
            .finish_non_exhaustive()
    }
}

impl Operations {
    /// Operations on `store`, with in-memory control and dead-letter stores
    /// of their own until others are set (in-memory stores only make sense
    /// shared with the runner: see [`Operations::with_runner`]).
    pub fn new(store: impl IntoEventStore) -> Self {
        Self {
            store: store.into_event_store(),
            catalogs: Vec::new(),
            control: Arc::new(InMemoryControlStore::new()),
            dead_letters: Arc::new(InMemoryDeadLetterStore::new()),
            sagas: None,
            migrations: None,
            keys: None,
            snapshots: None,
            registry: Registry::global(),
            clock: Clock::current(),
        }
    }

    /// Takes the control store and the dead-letter store of `runner`, so
    /// that in one process the operations reach its projections.
    pub fn with_runner(mut self, runner: &ProjectionRunner) -> Self {
        self.control = runner.control().clone();
        self.dead_letters = runner.dead_letters().clone();
        self
    }

    /// Reads projections' versions, checkpoints and leases from `catalog`
    /// (the projection backend; several may be added).
    pub fn with_catalog(mut self, catalog: impl ProjectionCatalog) -> Self {
        self.catalogs.push(Arc::new(catalog));
        self
    }

    /// Records control requests in `control` (where the runners look).
    pub fn with_control(mut self, control: Arc<dyn ControlStore>) -> Self {
        self.control = control;
        self
    }

    /// Reads and skips parked events in `dead_letters`.
    pub fn with_dead_letters(mut self, dead_letters: Arc<dyn DeadLetterStore>) -> Self {
        self.dead_letters = dead_letters;
        self
    }

    /// Reads saga instances from `sagas`.
    pub fn with_sagas(mut self, sagas: impl SagaStore) -> Self {
        self.sagas = Some(Arc::new(sagas));
        self
    }

    /// Shows and applies the store's schema migrations through `migrations`.
    pub fn with_migrations(mut self, migrations: impl Migrations) -> Self {
        self.migrations = Some(Arc::new(migrations));
        self
    }

    /// Forgets subjects of crypto-shredding in `keys` (see
    /// [`Operations::forget_subject`]).
    pub fn with_keys(mut self, keys: Arc<dyn KeyStore>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The snapshot store, the baseline of truncation by policy
    /// ([`Operations::truncate_by_policy`]).
    pub fn with_snapshots(mut self, snapshots: Arc<dyn crate::store::SnapshotStore>) -> Self {
        self.snapshots = Some(snapshots);
        self
    }

    /// Decodes with `registry` instead of the program's.
    pub fn with_registry(mut self, registry: &'static Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Takes time (lag in seconds, waits) from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The event store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The control store.
    pub fn control(&self) -> &Arc<dyn ControlStore> {
        &self.control
    }

    /// The store's schema migrations, if it has them.
    pub fn migrations(&self) -> Option<&Arc<dyn Migrations>> {
        self.migrations.as_ref()
    }

    /// The registry events are decoded with.
    pub fn registry(&self) -> &'static Registry {
        self.registry
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}
