//! `#[aggregate_impl]`: collects an aggregate's command and event sourcing
//! handlers and generates its event enum, apply dispatch and command routing.

mod check;
mod derives;
mod expand;
mod model;
mod read;

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr;
use crate::diagnostics::Errors;
use crate::diagnostics::item_head;
use crate::unparsed_bodies;

pub(crate) fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let args = attr::parse(&mut errors, "#[aggregate_impl]", args, read::KEYS);
    let item = match unparsed_bodies::impl_block(&item) {
        Ok(item) => item,
        Err(_) => {
            errors.at(
                item_head(&item),
                "#[aggregate_impl] goes on the inherent `impl` block of an aggregate, holding its handlers: `#[aggregate_impl] impl Account { ... }`",
            );
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    let model = read::parse(&mut errors, &args, item);
    let errors_tokens = errors.to_compile_errors();
    // `use path as _` names each handler attribute's path once without
    // expanding it again.
    let paths = &model.handler_paths;
    let uses = quote! {
        #(
            #[allow(unused_imports)]
            use #paths as _;
        )*
    };
    match &model.self_ident {
        // Even after an error, the handlers that could be read are expanded
        // (without registering), so one mistake does not cascade into errors
        // wherever the aggregate, its commands or its events are used.
        Some(self_ident) => {
            let expanded = expand::expand(&model, self_ident, errors.is_empty());
            quote!(#errors_tokens #uses #expanded)
        }
        None => {
            let item = &model.item;
            quote!(#errors_tokens #uses #item)
        }
    }
}
