//! Checks and snippets shared by several macros.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Generics, LitStr, Path};

use crate::args::Args;
use crate::errors::Errors;

/// The runtime crate's path: `crate = path` or `::eventsource`.
pub(crate) fn runtime_path(errors: &mut Errors, args: &Args) -> Path {
    args.path(errors, "crate")
        .unwrap_or_else(|| syn::parse_quote!(::eventsource))
}

/// Registry entries are statics, so the registered type must be concrete.
pub(crate) fn reject_generics(errors: &mut Errors, generics: &Generics, what: &str) {
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        errors.at(
            generics,
            format!("{what} cannot be generic: the registry needs one concrete type per name"),
        );
    }
}

/// A stored name: not empty, no white space or control characters.
pub(crate) fn check_name(errors: &mut Errors, name: &LitStr, what: &str) {
    let value = name.value();
    if value.trim().is_empty() {
        errors.at(name, format!("{what} must not be empty"));
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.at(
            name,
            format!("{what} must not contain white space or control characters"),
        );
    }
}

/// `"module::path::Name"`, computed where the code is expanded.
pub(crate) fn rust_path(ident: &syn::Ident) -> TokenStream {
    quote!(::core::concat!(
        ::core::module_path!(),
        "::",
        ::core::stringify!(#ident)
    ))
}
