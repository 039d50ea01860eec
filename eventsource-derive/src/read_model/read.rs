//! Reading a `#[read_model]` block into its [model](super::model): the
//! arguments, then each `#[query_handler]` method, each [checked](super::check).

use syn::{Attribute, ImplItem, ItemImpl, LitStr, Type};

use super::check;
use super::model::{Model, Projection};
use crate::attr::{Args, Key};
use crate::diagnostics::{Errors, render};
use crate::paths::runtime_path;

/// The keys `#[read_model]` takes.
pub(super) const KEYS: &[Key] = &[Key::Projection, Key::Crate];

/// The attribute that marks a query handler.
const HANDLER_ATTR: &str = "query_handler";

pub(super) fn parse(errors: &mut Errors, args: &Args, mut item: ItemImpl) -> Model {
    let krate = runtime_path(errors, args);
    let projection = projection(errors, args, &item.self_ty);
    let ident = check::check_block(errors, &item);
    let mut handlers = Vec::new();
    let mut marked = 0;
    for impl_item in &mut item.items {
        let ImplItem::Fn(function) = impl_item else {
            continue;
        };
        let markers = take_markers(function);
        if markers.is_empty() {
            continue;
        }
        marked += 1;
        check::check_markers(errors, &markers);
        if let Some(handler) = check::query_handler(errors, function, &item.self_ty) {
            handlers.push(handler);
        }
        // A variadic handler was reported; the `...` is removed so the
        // compiler does not report it a second time.
        function.sig.variadic = None;
    }
    if marked == 0 {
        errors.at(
            &item.self_ty,
            format!(
                "#[read_model] on `impl {}` finds no #[query_handler] method: mark the methods that answer queries, e.g. `#[query_handler] fn order(&self, q: &GetOrder) -> Option<OrderView>`",
                render(&item.self_ty)
            ),
        );
    }
    check::check_distinct_queries(errors, &mut handlers);
    Model {
        krate,
        item,
        ident,
        projection,
        handlers,
    }
}

/// `projection = Type` (`Self` allowed) or `projection = "name"`.
fn projection(errors: &mut Errors, args: &Args, self_ty: &Type) -> Projection {
    let Some(arg) = args.get(Key::Projection) else {
        return Projection::None;
    };
    let crate::attr::Value::Assign(tokens) = &arg.value else {
        errors.at(
            &arg.path,
            "expected `projection = Type` or `projection = \"name\"` in #[read_model]",
        );
        return Projection::None;
    };
    if let Ok(name) = syn::parse2::<LitStr>(tokens.clone()) {
        crate::checks::check_name(errors, &name, "`projection` in #[read_model]");
        return Projection::Name(name);
    }
    match syn::parse2::<Type>(tokens.clone()) {
        Ok(ty) => Projection::Type(Box::new(crate::handler_block::model::replace_self(
            &ty, self_ty,
        ))),
        Err(_) => {
            errors.at(
                tokens,
                "expected a projection type or name for `projection` in #[read_model]: `projection = Self`, `projection = OrderSummaries` or `projection = \"orders.summary\"`",
            );
            Projection::None
        }
    }
}

/// Takes the `#[query_handler]` attributes off `function`.
fn take_markers(function: &mut syn::ImplItemFn) -> Vec<Attribute> {
    let (markers, rest) = std::mem::take(&mut function.attrs)
        .into_iter()
        .partition(|a| a.path().is_ident(HANDLER_ATTR));
    function.attrs = rest;
    markers
}
