//! For `#[derive(Event)]` and the event sets the block macros generate.

pub use crate::event::EventSchema;
pub use crate::event::codec::{decode_event, encode_event};
pub use crate::event::dispatch::{DebugWith, EventFns, event_fns, unknown_event};
pub use crate::event::schema::{NoSchema, SchemaProbe};
pub use crate::event::{DecodeError, DecodeErrorKind, EncodedEvent, EventOf, IntoEvents};
pub use crate::event::{Event, EventSet, RecordedEvent};
