//! `Clone`, `PartialEq` and `Eq` for the generated event enum, each present
//! exactly when every event type has it.
//!
//! A macro cannot see which traits a type implements, so each impl carries
//! its condition as a `where` clause on the event types. The bounds are
//! written higher-ranked (`for<'e> Event: Clone`): a plain bound on a
//! concrete type that does not hold is a compile error, while a
//! higher-ranked one only leaves the impl unusable, which is the point. A
//! `given` list of events can then be cloned and compared whenever its
//! events can.

use proc_macro2::TokenStream;
use quote::quote;

use super::model::{EventHandler, Model};

pub(crate) fn derives(model: &Model) -> TokenStream {
    let Model {
        enum_ident, events, ..
    } = model;
    if events.is_empty() {
        return TokenStream::new();
    }
    let types: Vec<_> = events.iter().map(|h| &h.event).collect();
    let variants: Vec<_> = events
        .iter()
        .map(|EventHandler { variant, .. }| variant)
        .collect();
    quote! {
        #[automatically_derived]
        impl ::core::clone::Clone for #enum_ident
        where
            #(for<'__e> #types: ::core::clone::Clone,)*
        {
            #[inline]
            fn clone(&self) -> Self {
                match *self {
                    #(Self::#variants(ref event) => {
                        Self::#variants(::core::clone::Clone::clone(event))
                    })*
                }
            }
        }

        #[automatically_derived]
        impl ::core::cmp::PartialEq for #enum_ident
        where
            #(for<'__e> #types: ::core::cmp::PartialEq,)*
        {
            #[allow(unreachable_patterns)]
            #[inline]
            fn eq(&self, other: &Self) -> ::core::primitive::bool {
                match (self, other) {
                    #((Self::#variants(left), Self::#variants(right)) => {
                        ::core::cmp::PartialEq::eq(left, right)
                    })*
                    _ => false,
                }
            }
        }

        #[automatically_derived]
        impl ::core::cmp::Eq for #enum_ident
        where
            #(for<'__e> #types: ::core::cmp::Eq,)*
        {
        }
    }
}
