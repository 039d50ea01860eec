//! `#[read_model]`: an impl block whose `#[query_handler]` methods answer
//! queries. [Read](read) into a [model](model) (every handler [checked](check), each
//! mistake spanned on the user's tokens), then [expanded](expand) into the
//! `ReadModel` impl and one `AnsweredBy` impl and registry entry per handler.

mod check;
mod expand;
mod model;
mod read;

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr;
use crate::diagnostics::{Errors, item_head};
use crate::unparsed_bodies;

/// Expands `#[read_model]`. After a mistake the block and the handlers that
/// could be read are still expanded (without registering), so one mistake
/// gives one error rather than one more at every use of the queries.
pub(crate) fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let args = attr::parse(&mut errors, "#[read_model]", args, read::KEYS);
    let item = match unparsed_bodies::impl_block(&item) {
        Ok(item) => item,
        Err(_) => {
            errors.at(
                item_head(&item),
                "#[read_model] goes on an `impl` block whose #[query_handler] methods answer queries: `#[read_model] impl OrderSummaries { ... }`",
            );
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    let model = read::parse(&mut errors, &args, item);
    let expanded = expand::expand(&model, errors.is_empty());
    let errors = errors.to_compile_errors();
    quote!(#errors #expanded)
}
