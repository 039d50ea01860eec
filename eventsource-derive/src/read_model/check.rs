//! The rules of a `#[read_model]` block and its query handlers, one named
//! check per rule, each reporting its mistake on the user's tokens.

use quote::ToTokens;
use syn::{Attribute, FnArg, Ident, ImplItemFn, ItemImpl, ReturnType, Type};

use super::model::{Handler, Output};
use crate::diagnostics::{Errors, render};
use crate::handler_block::model::replace_self;
use crate::signature::{self, Generics, Plain, Receiver, Returns};

/// The block: an inherent impl of a concrete, named type. Returns the
/// type's name, which the registry entries use.
pub(super) fn check_block(errors: &mut Errors, item: &ItemImpl) -> Option<Ident> {
    if let Some((path, _)) = &item.trait_ {
        errors.at(
            path,
            format!(
                "#[read_model] goes on an inherent `impl {}` block, not on a trait impl",
                render(&item.self_ty)
            ),
        );
        return None;
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.at(
            &item.generics,
            "#[read_model] does not support generic impl blocks: the bus finds a read model by its concrete type",
        );
        return None;
    }
    match &*item.self_ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.clone())
        }
        other => {
            errors.at(
                other,
                "#[read_model] goes on the impl block of a named type: `impl OrderSummaries { ... }`",
            );
            None
        }
    }
}

/// `#[query_handler]` is written once and takes no arguments.
pub(super) fn check_markers(errors: &mut Errors, markers: &[Attribute]) {
    for (i, marker) in markers.iter().enumerate() {
        if i > 0 {
            errors.at(marker, "duplicate #[query_handler] on one method");
        } else if !matches!(marker.meta, syn::Meta::Path(_)) {
            errors.at(
                marker,
                "#[query_handler] takes no arguments: the query is the method's argument and the answer its return type",
            );
        }
    }
}

/// A query handler: `[async] fn answer(&self, q: &Query) -> Result`.
/// `None` when the query it answers cannot be told.
pub(super) fn query_handler(
    errors: &mut Errors,
    function: &ImplItemFn,
    self_ty: &Type,
) -> Option<Handler> {
    let sig = &function.sig;
    let mut callable = signature::check_plain(
        errors,
        sig,
        &Plain {
            what: "a query handler",
            not_async: None,
            generics: Generics::None,
        },
    );
    callable &= signature::check_receiver(
        errors,
        sig,
        Receiver::Shared,
        "a query handler takes `&self`: it reads the read model and changes nothing",
    );
    let (query, by_ref) = check_query_argument(errors, sig, &mut callable)?;
    let output = check_output(errors, sig, &mut callable);
    Some(Handler {
        method: sig.ident.clone(),
        query: replace_self(&query, self_ty),
        by_ref,
        asyncness: sig.asyncness.is_some(),
        output,
        callable,
    })
}

/// One argument after `&self`, the query: `q: &Query` or `q: Query`.
fn check_query_argument(
    errors: &mut Errors,
    sig: &syn::Signature,
    callable: &mut bool,
) -> Option<(Type, bool)> {
    let mut params = sig
        .inputs
        .iter()
        .filter(|arg| matches!(arg, FnArg::Typed(_)));
    let Some(FnArg::Typed(arg)) = params.next() else {
        errors.at(
            &sig.ident,
            "a query handler takes the query as its argument: `fn order(&self, q: &GetOrder) -> Option<OrderView>`",
        );
        return None;
    };
    let extra: Vec<&FnArg> = params.collect();
    if let (Some(first), Some(last)) = (extra.first(), extra.last()) {
        let mut tokens = first.to_token_stream();
        if extra.len() > 1 {
            tokens.extend(last.to_token_stream());
        }
        errors.at(
            tokens,
            "a query handler takes only the query: what else it needs belongs to the read model (`self`)",
        );
        *callable = false;
    }
    match &*arg.ty {
        Type::Reference(reference) if reference.mutability.is_some() => {
            errors.at(
                &arg.ty,
                format!(
                    "a query handler takes the query by shared reference or by value: `q: &{}`",
                    render(&reference.elem)
                ),
            );
            *callable = false;
            Some(((*reference.elem).clone(), true))
        }
        Type::Reference(reference) => Some(((*reference.elem).clone(), true)),
        other => Some((other.clone(), false)),
    }
}

/// The return type: the query's result, or a `Result` of it.
fn check_output(errors: &mut Errors, sig: &syn::Signature, callable: &mut bool) -> Option<Output> {
    let ReturnType::Type(_, ty) = &sig.output else {
        errors.at(
            &sig.ident,
            "a query handler returns the query's result: `-> OrderView`, or `-> Result<OrderView, E>` when it can fail",
        );
        *callable = false;
        return None;
    };
    Some(match signature::returns(ty) {
        Returns::Result { ok, error } => Output::Result {
            ok: Box::new(ok.clone()),
            error: Box::new(error.clone()),
        },
        Returns::ResultAlias { .. } => Output::ResultAlias((**ty).clone()),
        Returns::Value => Output::Value((**ty).clone()),
    })
}

/// One handler per query in a block: the bus routes a query to one method.
/// The later ones are reported and dropped.
pub(super) fn check_distinct_queries(errors: &mut Errors, handlers: &mut Vec<Handler>) {
    let mut seen: Vec<(String, Ident)> = Vec::new();
    handlers.retain(|handler| {
        let query = render(&handler.query);
        match seen.iter().find(|(q, _)| *q == query) {
            Some((_, first)) => {
                errors.at(
                    &handler.query,
                    format!("query `{query}` already has a handler in this block: `{first}`; a query has one handler"),
                );
                false
            }
            None => {
                seen.push((query, handler.method.clone()));
                true
            }
        }
    });
}
