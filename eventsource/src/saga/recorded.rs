//! Commands a saga dispatched while recorded rather than run (the saga
//! fixture of the `testing` feature records them).

use std::any::Any;
use std::sync::{Mutex, PoisonError};

use crate::command::Command;
use crate::event::Metadata;

/// A command a saga handler dispatched, as recorded.
#[derive(Debug)]
pub struct RecordedCommand {
    /// The command's name (`Command::NAME`).
    pub name: &'static str,
    /// The id of the aggregate it targets.
    pub aggregate_id: String,
    /// The metadata it was dispatched with (caused by the saga's event).
    pub metadata: Metadata,
    command: Box<dyn Any + Send + Sync>,
}

impl RecordedCommand {
    pub(crate) fn new<C: Command>(command: C, metadata: Metadata) -> Self {
        Self {
            name: C::NAME,
            aggregate_id: command.aggregate_id(),
            metadata,
            command: Box::new(command),
        }
    }

    /// The command, if it is a `C`.
    pub fn downcast<C: Command>(&self) -> Option<&C> {
        self.command.downcast_ref::<C>()
    }
}

/// Where a recorded context puts the commands.
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Vec<RecordedCommand>>);

impl Recorder {
    pub(crate) fn push(&self, command: RecordedCommand) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(command);
    }

    #[cfg(feature = "testing")]
    pub(crate) fn take(&self) -> Vec<RecordedCommand> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
