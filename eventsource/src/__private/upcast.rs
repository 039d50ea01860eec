//! For `#[upcaster]`: typed upcasters and their hand-over to the decoder.

pub use crate::upcast::typed::{
    TypedFromValue, TypedUpcast, UpcastInput, UpcastInputFns, UpcastOutput, UpcastOutputFns,
    from_payload, to_payload, typed_from_text, typed_from_value, upcast_input, upcast_output,
};
