//! What sets a `#[projection]` block apart from a `#[saga]` block, as data:
//! the shared reading and expansion ask it rather than branch on the kind.

use crate::attr::Key;

/// One kind of handler block: its words in messages and its rules.
pub(crate) struct BlockKind {
    /// The attribute as users write it: `#[projection]`.
    pub(crate) attr: &'static str,
    /// `projection`.
    pub(crate) noun: &'static str,
    /// `a projection handler`.
    pub(crate) handler: &'static str,
    /// The handler form shown in messages.
    pub(crate) example: &'static str,
    /// An impl block of the kind, shown when the attribute is elsewhere.
    pub(crate) item_example: &'static str,
    /// What the `name` keys: `its checkpoint is kept under`.
    pub(crate) name_keys: &'static str,
    /// A name, shown when it is missing: `orders.summary`.
    pub(crate) name_example: &'static str,
    /// Why a handler takes `&mut self`.
    pub(crate) receiver: &'static str,
    /// Added when a method takes no event: what else it could be.
    pub(crate) no_event_hint: &'static str,
    /// The arguments a handler may take after the event.
    pub(crate) extras: &'static str,
    /// The context argument, in the message about taking it twice.
    pub(crate) context_argument: &'static str,
    /// Whether handlers choose the context type.
    pub(crate) context: Context,
    /// The keys its attribute takes.
    pub(crate) keys: &'static [Key],
    /// How `#[reset]` is treated.
    pub(crate) reset: Marker,
    /// How `#[retire]` is treated.
    pub(crate) retire: Marker,
    /// How `#[start]` is treated.
    pub(crate) start: Marker,
    /// The registry entry's type, in `__private`.
    pub(crate) registration: &'static str,
}

/// Whose type the context argument is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// The handlers choose it (one type `C` for all), and it becomes the
    /// trait's `Context`.
    Chosen,
    /// The runtime's, whatever the handlers write.
    Given,
}

/// How a marker attribute on a method is treated.
#[derive(Clone, Copy)]
pub(crate) enum Marker {
    /// It marks the method: `#[reset]` a projection's reset method,
    /// `#[retire]` the method an old version runs once a newer one took over,
    /// `#[start]` a saga handler that may begin an instance (at least one must).
    Marks,
    /// It is a mistake in this kind of block, reported with this message.
    Rejected(&'static str),
}
