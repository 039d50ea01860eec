//! `#[aggregate_impl]`: collects an aggregate's command and event sourcing
//! handlers and generates its event enum, apply dispatch and command routing.

mod expand;
mod model;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

use crate::args;
use crate::errors::Errors;

pub(crate) fn attribute(args: TokenStream, item: ItemImpl) -> TokenStream {
    let mut errors = Errors::new();
    let args = args::parse(&mut errors, "#[aggregate_impl]", args, model::KEYS);
    let model = model::parse(&mut errors, &args, item);
    match (&model.self_ident, errors.is_empty()) {
        (Some(self_ident), true) => expand::expand(&model, self_ident, true),
        // The handlers that parsed are still expanded (without registering),
        // so one mistake does not cascade into errors wherever the aggregate
        // is used.
        (Some(self_ident), false) => {
            let errors = errors.to_compile_errors();
            let expanded = expand::expand(&model, self_ident, false);
            quote!(#errors #expanded)
        }
        (None, _) => {
            let item = &model.item;
            let errors = errors.to_compile_errors();
            quote!(#errors #item)
        }
    }
}
