//! The argument `#[aggregate_impl]` leaves on the handler attributes it read
//! (`#[command_handler(__read_by_aggregate_impl)]`), so that they expand to
//! their method unchanged instead of reporting themselves misplaced.

/// The argument `#[aggregate_impl]` leaves on the handler attributes it read,
/// so they expand to their method unchanged.
pub(crate) const HANDLED: HandledMarker = HandledMarker;

pub(crate) struct HandledMarker;

impl quote::ToTokens for HandledMarker {
    fn to_tokens(&self, tokens: &mut proc_macro2::TokenStream) {
        tokens.extend([proc_macro2::TokenTree::Ident(proc_macro2::Ident::new(
            "__read_by_aggregate_impl",
            proc_macro2::Span::call_site(),
        ))]);
    }
}
