//! Code generated for a `#[projection]` or `#[saga]` block.
//!
//! Every check the compiler does on the user's types is made once, in a
//! constant spanned on the user's tokens:
//! - each event type is used as an `Event` in one constant (its `EventFns`),
//!   which the dispatch and the list of events go through;
//! - what a handler returns is split by one constant spanned on the return
//!   type and, for a `Result<(), E>` written out, its error converted by one
//!   spanned on `E`;
//! - the metadata and context arguments are passed as expressions spanned on
//!   their declared types, so a wrong type is reported there.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, LitStr, Type};

use super::model::{Handler, HandlerArg, Model, Output};
use crate::diagnostics::{first_last_spans, render, respan, spanned_range};

/// What a kind's trait impl is built from.
pub(crate) struct Generated<'a> {
    pub(crate) model: &'a Model,
    /// The type the trait is implemented for.
    pub(crate) self_ty: &'a Type,
    /// The stored name (empty after a reported mistake).
    pub(crate) name: &'a LitStr,
    /// The names of the handled events, as an expression.
    pub(crate) names: &'a TokenStream,
    /// The constant of each handler's event functions, in order.
    pub(crate) events: &'a [Ident],
    /// The body of `handle`.
    pub(crate) dispatch: &'a TokenStream,
}

/// Builds the kind's trait impl (in `projection` and `saga`).
pub(crate) type TraitImpl = fn(&Generated<'_>) -> TokenStream;

/// The block, its constants, its trait impl and, when `valid`, its
/// registry entry.
pub(crate) fn expand(model: &Model, valid: bool, trait_impl: TraitImpl) -> TokenStream {
    let item = &model.item;
    let Some(self_ty) = &model.self_ty else {
        return quote!(#item);
    };
    let krate = &model.krate;
    let name = match &model.name {
        Some(name) => name.clone(),
        // Reported; the trait is still implemented so uses of the type compile.
        None => LitStr::new("", Span::call_site()),
    };
    let events: Vec<Ident> = (0..model.handlers.len())
        .map(|i| format_ident!("EVENT_{}", i))
        .collect();
    let consts = model
        .handlers
        .iter()
        .zip(&events)
        .enumerate()
        .map(|(i, (handler, event))| handler_consts(model, handler, event, i));
    let reset_consts = model
        .reset
        .as_ref()
        .map(|reset| output_consts(krate, &reset.output, "RESET"));
    let retire_consts = model
        .retire
        .as_ref()
        .map(|retire| output_consts(krate, &retire.output, "RETIRE"));
    let names = quote!(&[#(#events.name),*]);
    // Two handlers for one type under two names: reported on the impl's type.
    let distinct = (model.handlers.len() > 1).then(|| {
        let message = format!(
            "two handlers of this {} handle the same event (a type imported under two names?): an event has one handler",
            model.kind.attr
        );
        let (first, last) = first_last_spans(self_ty);
        let check = spanned_range(
            quote!(::core::assert!(#krate::__private::distinct_events(#names), #message)),
            first,
            last,
        );
        quote!(const _: () = #check;)
    });
    let dispatch = dispatch(model, &events);
    let trait_impl = trait_impl(&Generated {
        model,
        self_ty,
        name: &name,
        names: &names,
        events: &events,
        dispatch: &dispatch,
    });
    let registration = (valid && model.name.is_some()).then(|| {
        let registration = format_ident!("{}", model.kind.registration);
        let rust_type = rust_type(self_ty);
        let version = model.version.map(|v| quote!(.versioned(#v)));
        let dispatches = model.dispatches.as_ref().map(|_| {
            quote!(.dispatching(<#self_ty as #krate::saga::Saga>::DISPATCHES))
        });
        quote! {
            #krate::__private::inventory::submit! {
                #krate::__private::#registration::new(#name, #rust_type, #names) #version #dispatches
            }
        }
    });
    quote! {
        #item

        const _: () = {
            #(#consts)*
            #reset_consts
            #retire_consts
            #distinct
            #trait_impl
            #registration
        };
    }
}

/// `"module::path::Type"`, computed where the code is expanded.
fn rust_type(self_ty: &Type) -> TokenStream {
    let shown = match self_ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .map_or_else(|| render(self_ty), render),
        other => render(other),
    };
    quote!(::core::concat!(::core::module_path!(), "::", #shown))
}

/// The constants of one handler: its event's functions and its output's.
fn handler_consts(model: &Model, handler: &Handler, event: &Ident, index: usize) -> TokenStream {
    let krate = &model.krate;
    let ty = &handler.event;
    // Spanned on the user's type: a type that is not an event is reported
    // there, once.
    let (first, last) = first_last_spans(ty);
    let call = spanned_call(
        quote!(#krate::__private::event_fns),
        quote!(#ty),
        first,
        last,
    );
    let output = output_consts(krate, &handler.output, &format!("HANDLER_{index}"));
    quote! {
        const #event: #krate::__private::EventFns<#ty> = #call;
        #output
    }
}

/// `PREFIX_OUTPUT` (and `PREFIX_ERROR`): what a method returns, split and
/// converted, each checked on the user's type.
fn output_consts(krate: &syn::Path, output: &Output, prefix: &str) -> TokenStream {
    let output_ident = format_ident!("{}_OUTPUT", prefix);
    let error_ident = format_ident!("{}_ERROR", prefix);
    match output {
        Output::Unit => TokenStream::new(),
        Output::Result { ty, error } => {
            let (first, last) = first_last_spans(ty);
            let split = spanned_call(
                quote!(#krate::__private::handler_output),
                quote!(#ty, #error),
                first,
                last,
            );
            let (first, last) = first_last_spans(error);
            let convert = spanned_call(
                quote!(#krate::__private::handler_error),
                quote!(#error),
                first,
                last,
            );
            quote! {
                const #output_ident: fn(#ty) -> #krate::__private::Result<(), #error> = #split;
                const #error_ident: fn(#error) -> #krate::projection::ProjectionError = #convert;
            }
        }
        Output::Other(ty) => {
            let (first, last) = first_last_spans(ty);
            let split = spanned_call(
                quote!(#krate::__private::handler_output_converted),
                quote!(#ty),
                first,
                last,
            );
            quote! {
                const #output_ident: fn(#ty) -> #krate::__private::Result<
                    (),
                    #krate::projection::ProjectionError,
                > = #split;
            }
        }
    }
}

/// `path::<args>()` spanned from `first` to `last`, the user's types in
/// `args` keeping their own spans: an unmet bound of the function is
/// reported on the user's whole type.
fn spanned_call(path: TokenStream, args: TokenStream, first: Span, last: Span) -> TokenStream {
    let path = respan(quote!(#path::<), first);
    let close = respan(quote!(>()), last);
    quote!(#path #args #close)
}

/// A call to a user method: awaited if async, its error returned if fallible.
pub(crate) fn call(
    krate: &syn::Path,
    method: &Ident,
    args: TokenStream,
    asyncness: bool,
    output: &Output,
    prefix: &str,
) -> TokenStream {
    let span = method.span();
    let call = quote_spanned!(span=> Self::#method(self #args));
    let value = if asyncness {
        quote_spanned!(span=> #call.await)
    } else {
        call
    };
    let output_ident = format_ident!("{}_OUTPUT", prefix);
    let error_ident = format_ident!("{}_ERROR", prefix);
    match output {
        Output::Unit => quote!(#value;),
        Output::Result { .. } => quote! {
            if let #krate::__private::Result::Err(error) = #output_ident(#value) {
                return #krate::__private::Result::Err(#error_ident(error));
            }
        },
        Output::Other(_) => quote! {
            if let #krate::__private::Result::Err(error) = #output_ident(#value) {
                return #krate::__private::Result::Err(error);
            }
        },
    }
}

/// An argument spanned on the parameter's declared type, so a mismatch is
/// reported there.
pub(crate) fn argument(expr: TokenStream, declared: &Type) -> TokenStream {
    let (first, last) = first_last_spans(declared);
    let arg = spanned_range(expr, first, last);
    quote!(, #arg)
}

/// The body of `handle`: decode the record as the matching event and call
/// its handler.
fn dispatch(model: &Model, events: &[Ident]) -> TokenStream {
    let krate = &model.krate;
    let arms = model
        .handlers
        .iter()
        .zip(events)
        .enumerate()
        .map(|(i, (h, event))| {
            if !h.callable {
                // A mistake in the handler was reported: the event stays handled,
                // without calling the handler.
                return quote! {
                    if (#event.is_named)(name) {
                        return #krate::__private::Result::Ok(true);
                    }
                };
            }
            let args = h.args.iter().map(|arg| match arg {
                HandlerArg::Meta(ty) => argument(quote!(&*record), ty),
                HandlerArg::Context(ty) => argument(quote!(&mut *context), ty),
            });
            let invoke = call(
                krate,
                &h.method,
                quote!(, &event #(#args)*),
                h.asyncness,
                &h.output,
                &format!("HANDLER_{i}"),
            );
            quote! {
                if (#event.is_named)(name) {
                    let event = match (#event.decode)(record) {
                        #krate::__private::Result::Ok(event) => event,
                        #krate::__private::Result::Err(error) => {
                            return #krate::__private::Result::Err(
                                #krate::projection::ProjectionError::Decode(error),
                            );
                        }
                    };
                    #invoke
                    return #krate::__private::Result::Ok(true);
                }
            }
        });
    quote! {
        let name: &::core::primitive::str = &record.event_name;
        #(#arms)*
        #krate::__private::Result::Ok(false)
    }
}

/// `async fn name(&mut self, params) -> Output { body }` as the traits'
/// `#[async_trait]` declares it, written out so that every path is absolute
/// (`async_trait`'s own expansion names `Box` through the prelude).
/// `lifetimes`: the names of the elided lifetimes of `params` after `self`'s.
pub(crate) fn async_method(
    krate: &syn::Path,
    name: TokenStream,
    params: TokenStream,
    lifetimes: &[&str],
    output: TokenStream,
    body: TokenStream,
) -> TokenStream {
    let lifetimes: Vec<syn::Lifetime> = std::iter::once("'life0")
        .chain(lifetimes.iter().copied())
        .map(|name| syn::Lifetime::new(name, Span::call_site()))
        .collect();
    quote! {
        fn #name<#(#lifetimes,)* 'async_trait>(
            self: &'life0 mut Self,
            #params
        ) -> ::core::pin::Pin<#krate::__private::Box<
            dyn ::core::future::Future<Output = #output> + ::core::marker::Send + 'async_trait,
        >>
        where
            #(#lifetimes: 'async_trait,)*
            Self: 'async_trait,
        {
            #krate::__private::Box::pin(async move { #body })
        }
    }
}
