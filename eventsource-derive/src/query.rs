//! `#[derive(Query)]`: a question to a read model and the type it is
//! answered with.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, LitStr, Path, Type};

use crate::attr::{self, Key};
use crate::checks::{check_name, reject_generics};
use crate::diagnostics::{Errors, render};
use crate::paths::{runtime_path, rust_path};

const KEYS: &[Key] = &[Key::Result, Key::Name, Key::Crate];

struct Model<'a> {
    input: &'a DeriveInput,
    krate: Path,
    result: Option<Type>,
    name: Option<LitStr>,
}

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    let mut errors = Errors::new();
    let model = parse(&mut errors, &input);
    match (&model.result, errors.is_empty()) {
        (Some(result), true) => expand(&model, result),
        _ => {
            let errors = errors.to_compile_errors();
            let fallback = fallback(&model);
            quote!(#errors #fallback)
        }
    }
}

/// Keeps `T: Query` true after an error so uses of the type do not fail too.
fn fallback(model: &Model<'_>) -> TokenStream {
    let (Some(result), true) = (&model.result, model.input.generics.params.is_empty()) else {
        return TokenStream::new();
    };
    let krate = &model.krate;
    let ident = &model.input.ident;
    quote! {
        #[automatically_derived]
        impl #krate::query::Query for #ident {
            type Result = #result;
            const NAME: &'static ::core::primitive::str = "";
        }
    }
}

fn parse<'a>(errors: &mut Errors, input: &'a DeriveInput) -> Model<'a> {
    let args = attr::parse_attrs(
        errors,
        "#[query]",
        &input.attrs,
        "query",
        KEYS,
        "#[query(result = OrderView)]",
    );
    let krate = runtime_path(errors, &args);
    let result = args.ty(errors, Key::Result, "OrderView");
    let name = args.string(errors, Key::Name);
    if let Some(name) = &name {
        check_name(errors, name, "`name` in #[query]");
    }
    reject_generics(errors, &input.generics, "a query");
    check_result(errors, &args, input);
    if let Data::Union(data) = &input.data {
        errors.at(
            data.union_token,
            "#[derive(Query)] does not support unions; use a struct or an enum",
        );
    }
    Model {
        input,
        krate,
        result,
        name,
    }
}

/// A query names the type it is answered with: the bus returns it, the
/// handler must produce it.
fn check_result(errors: &mut Errors, args: &attr::Args, input: &DeriveInput) {
    if args.missing(Key::Result) {
        errors.at(
            &input.ident,
            "missing #[query(result = ...)]: name the type this query is answered with, e.g. `#[query(result = Option<OrderView>)]`",
        );
    }
}

fn expand(model: &Model<'_>, result: &Type) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.input.ident;
    let rust_type = rust_path(ident);
    let name = match &model.name {
        Some(name) => quote!(#name),
        None => rust_type.clone(),
    };
    let result_text = render(result);
    quote! {
        #[automatically_derived]
        impl #krate::query::Query for #ident {
            type Result = #result;
            const NAME: &'static ::core::primitive::str = #name;
        }

        #krate::__private::inventory::submit! {
            #krate::__private::QueryRegistration::new(#name, #rust_type, #result_text)
        }
    }
}
