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

/// The `Self` type's name of an inherent, non-generic impl block.
pub(crate) fn impl_self_ident(
    errors: &mut Errors,
    item: &syn::ItemImpl,
    attr: &str,
) -> Option<syn::Ident> {
    if let Some((path, _)) = &item.trait_ {
        errors.at(
            path,
            format!("{attr} goes on an inherent impl block, not on a trait impl"),
        );
        return None;
    }
    if !item.generics.params.is_empty() {
        errors.at(
            &item.generics,
            format!(
                "{attr} does not support generic impl blocks: it is registered by concrete type"
            ),
        );
        return None;
    }
    match &*item.self_ty {
        syn::Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
            Some(segment) if segment.arguments.is_empty() => Some(segment.ident.clone()),
            _ => {
                errors.at(
                    &item.self_ty,
                    format!("{attr} needs a plain type, without generic arguments"),
                );
                None
            }
        },
        other => {
            errors.at(
                other,
                format!("{attr} goes on the impl block of a struct or enum"),
            );
            None
        }
    }
}
