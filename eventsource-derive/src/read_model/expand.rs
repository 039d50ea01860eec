//! The code a `#[read_model]` block generates: the block itself, the
//! `ReadModel` impl, and per handler an `AnsweredBy` impl on the query and
//! a registry entry.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use super::model::{Handler, Model, Output, Projection};
use crate::diagnostics::{first_last_spans, respan, spanned_range};
use crate::paths::rust_path;

pub(super) fn expand(model: &Model, valid: bool) -> TokenStream {
    let item = &model.item;
    let Some(ident) = &model.ident else {
        return item.to_token_stream();
    };
    let krate = &model.krate;
    let self_ty = &model.item.self_ty;
    let projection = match &model.projection {
        Projection::None => quote!(#krate::__private::Option::None),
        Projection::Name(name) => quote!(#krate::__private::Option::Some(#name)),
        Projection::Type(ty) => {
            let (first, last) = first_last_spans(ty);
            let name = spanned_range(
                quote!(<#ty as #krate::projection::Projection>::NAME),
                first,
                last,
            );
            quote!(#krate::__private::Option::Some(#name))
        }
    };
    let answers = model.handlers.iter().map(|h| answered_by(model, h));
    let rust_type = rust_path(ident);
    let entries = model.handlers.iter().filter(|_| valid).map(|h| {
        let query = &h.query;
        let method = h.method.to_string();
        quote! {
            #krate::__private::inventory::submit! {
                #krate::__private::QueryHandlerRegistration::new(
                    <#query as #krate::query::Query>::NAME,
                    #rust_type,
                    #method,
                )
            }
        }
    });
    quote! {
        #item

        #[automatically_derived]
        impl #krate::query::ReadModel for #self_ty {
            const PROJECTION: #krate::__private::Option<&'static ::core::primitive::str> = #projection;
        }

        #(#answers)*
        #(#entries)*
    }
}

/// `impl AnsweredBy<ReadModel> for Query`, calling the handler.
fn answered_by(model: &Model, handler: &Handler) -> TokenStream {
    let krate = &model.krate;
    let self_ty = &model.item.self_ty;
    let query = &handler.query;
    // On the user's query type: a type that is no query is reported there.
    let (first, last) = first_last_spans(query);
    let result = spanned_range(
        quote!(<#query as #krate::query::Query>::Result),
        first,
        last,
    );
    let body = match (&handler.output, handler.callable) {
        (Some(output), true) => call(model, handler, output),
        // Only generated next to a reported mistake, so never run.
        _ => quote!(::core::unreachable!()),
    };
    // The impl's own tokens on the query type too: a type that is no query
    // is then reported at the handler's argument, not at the attribute.
    let header = respan(
        quote!(#[automatically_derived] impl #krate::query::AnsweredBy<#self_ty> for),
        first,
    );
    let signature = respan(
        quote!(fn answer<'__a>(read_model: &'__a #self_ty, query: &'__a Self) -> #krate::__private::BoxFuture<'__a, #krate::__private::Result<),
        first,
    );
    quote! {
        #header #query {
            #signature #result, #krate::BoxError>> {
                #krate::__private::Box::pin(async move { #body })
            }
        }
    }
}

/// Calls the handler and turns what it returns into the bus's `Result`,
/// each check spanned on the user's type it is about.
fn call(model: &Model, handler: &Handler, output: &Output) -> TokenStream {
    let krate = &model.krate;
    let query = &handler.query;
    let method = &handler.method;
    let argument = if handler.by_ref {
        quote!(query)
    } else {
        let (first, last) = first_last_spans(query);
        spanned_range(quote!(#krate::__private::clone_query(query)), first, last)
    };
    let awaited = handler.asyncness.then(|| quote!(.await));
    let answer = |ty: &syn::Type| {
        let (first, last) = first_last_spans(ty);
        spanned_range(
            quote!(#krate::__private::query_answer::<#query>(answer)),
            first,
            last,
        )
    };
    let convert = match output {
        Output::Value(ty) => {
            let answer = answer(ty);
            quote!(#krate::__private::Result::Ok(#answer))
        }
        Output::Result { ok, error } => {
            let answer = answer(ok);
            let (first, last) = first_last_spans(error);
            let error = spanned_range(
                quote!(#krate::__private::query_error::<#error>(error)),
                first,
                last,
            );
            quote! {
                match answer {
                    #krate::__private::Result::Ok(answer) => #krate::__private::Result::Ok(#answer),
                    #krate::__private::Result::Err(error) => #krate::__private::Result::Err(#error),
                }
            }
        }
        Output::ResultAlias(ty) => {
            let answer = answer(ty);
            let (first, last) = first_last_spans(ty);
            let split = spanned_range(
                quote!(#krate::__private::HandlerResult::into_result(answer)),
                first,
                last,
            );
            let error = spanned_range(quote!(#krate::__private::query_error(error)), first, last);
            quote! {
                match #split {
                    #krate::__private::Result::Ok(answer) => #krate::__private::Result::Ok(#answer),
                    #krate::__private::Result::Err(error) => #krate::__private::Result::Err(#error),
                }
            }
        }
    };
    quote! {
        let answer = read_model.#method(#argument)#awaited;
        #convert
    }
}
