//! The typed model of an `#[aggregate_impl]` block.
//!
//! A handler with a mistake in its signature is reported and kept, marked
//! not callable: its command still gets a `Handles` impl and its event a
//! variant, so the one mistake does not cascade into errors wherever the
//! command or the event is used.

use syn::{Ident, ItemImpl, Path, Type, Visibility};

/// Which policy a `#[command_handler]` declares.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    Existing,
    Create,
    CreateIfMissing,
}

pub(crate) struct CommandHandler {
    pub(crate) method: Ident,
    /// The command type, without a reference.
    pub(crate) command: Type,
    pub(crate) by_ref: bool,
    /// The declared type of the metadata argument, if any.
    pub(crate) metadata: Option<Type>,
    /// The declared return type.
    pub(crate) output: Option<Type>,
    /// Whether `output` is a `Result` (by its name).
    pub(crate) fallible: bool,
    /// The type whose events are checked: the `Ok` type of a `Result` when
    /// written out, else the whole return type. Errors are spanned on it.
    pub(crate) events_ty: Option<Type>,
    pub(crate) policy: Policy,
    /// False when the signature has a mistake (already reported): the
    /// generated impl then does not call the method.
    pub(crate) callable: bool,
}

pub(crate) struct EventHandler {
    pub(crate) method: Ident,
    /// The event type, without the reference.
    pub(crate) event: Type,
    pub(crate) variant: Ident,
    /// False when the signature has a mistake (already reported).
    pub(crate) callable: bool,
}

pub(crate) struct Model {
    pub(crate) item: ItemImpl,
    /// The aggregate, when the block is on a plain type the code can name.
    pub(crate) self_ident: Option<Ident>,
    pub(crate) krate: Path,
    pub(crate) enum_ident: Ident,
    pub(crate) enum_vis: Visibility,
    pub(crate) commands: Vec<CommandHandler>,
    pub(crate) events: Vec<EventHandler>,
    /// False when an event sourcing handler could not be read (reported):
    /// the event enum may then lack an event, so what command handlers
    /// return is not checked against it.
    pub(crate) events_complete: bool,
    /// The distinct paths the handler attributes were written with, which
    /// the expansion imports so the user's imports of them stay used.
    pub(crate) handler_paths: Vec<Path>,
}
