//! Paths the generated code names: the runtime's, and the user's item's.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Path;

use crate::attr::{Args, Key};
use crate::diagnostics::Errors;

/// The runtime crate's path: `crate = path` or `::eventsource`.
pub(crate) fn runtime_path(errors: &mut Errors, args: &Args) -> Path {
    args.path(errors, Key::Crate, "::eventsource")
        .unwrap_or_else(|| syn::parse_quote!(::eventsource))
}

/// `"module::path::Name"`, computed where the code is expanded.
pub(crate) fn rust_path(ident: &syn::Ident) -> TokenStream {
    quote!(::core::concat!(
        ::core::module_path!(),
        "::",
        ::core::stringify!(#ident)
    ))
}
