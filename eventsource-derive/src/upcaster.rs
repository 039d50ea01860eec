//! `#[upcaster]`: registers a function that lifts a stored payload one version up.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{FnArg, Item, ItemFn, ReturnType, Type};

use crate::args;
use crate::common::{check_name, runtime_path};
use crate::errors::Errors;

const KEYS: &[&str] = &["event", "from", "crate"];

enum Form {
    /// `fn(Value) -> Result<Value, UpcastError>`.
    Json,
    /// `fn(Old) -> New`.
    Typed,
    /// `fn(Old) -> Result<New, UpcastError>`.
    TypedFallible,
}

pub(crate) fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let args = args::parse(&mut errors, "#[upcaster]", args, KEYS);
    let krate = runtime_path(&mut errors, &args);
    let event = args.string(&mut errors, "event");
    let from = args.positive_u32(&mut errors, "from").map(|(n, _)| n);
    match &event {
        Some(name) => check_name(&mut errors, name, "the event name"),
        None if args.get("event").is_none() => errors.at_span(
            proc_macro2::Span::call_site(),
            "missing `event = \"...\"` in #[upcaster]: name the event this upcaster upgrades",
        ),
        None => {}
    }
    if from.is_none() && args.get("from").is_none() {
        errors.at_span(
            proc_macro2::Span::call_site(),
            "missing `from = N` in #[upcaster]: the version this upcaster upgrades from",
        );
    }

    let function = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => {
            errors.at(
                other,
                "#[upcaster] goes on a free function: `fn up(old: Value) -> Result<Value, UpcastError>`",
            );
            return errors.to_compile_errors();
        }
        Err(_) => {
            // Not an item at all; let the compiler report the syntax error.
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    let form = form(&mut errors, &function);
    match (event, from, form, errors.is_empty()) {
        (Some(event), Some(from), Some(form), true) => {
            let ident = &function.sig.ident;
            let upcast = match form {
                Form::Json => quote_spanned!(ident.span()=> #ident(payload)),
                Form::Typed => quote!(#krate::__private::upcast_typed(payload, #ident)),
                Form::TypedFallible => {
                    quote!(#krate::__private::upcast_typed_fallible(payload, #ident))
                }
            };
            let rust_fn = crate::common::rust_path(ident);
            quote! {
                #function

                const _: () = {
                    fn upcast(
                        payload: #krate::__private::serde_json::Value,
                    ) -> #krate::__private::Result<#krate::__private::serde_json::Value, #krate::UpcastError> {
                        #upcast
                    }

                    #krate::__private::inventory::submit! {
                        #krate::registry::UpcasterRegistration {
                            event: #event,
                            from: #from,
                            upcast,
                            function: #rust_fn,
                        }
                    }
                };
            }
        }
        _ => {
            let errors = errors.to_compile_errors();
            quote!(#errors #function)
        }
    }
}

fn form(errors: &mut Errors, function: &ItemFn) -> Option<Form> {
    let sig = &function.sig;
    let mut ok = true;
    if let Some(token) = &sig.asyncness {
        errors.at(
            token,
            "an upcaster cannot be async: it must be a pure function of the payload",
        );
        ok = false;
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        errors.at(token, "an upcaster cannot be unsafe");
        ok = false;
    }
    if !sig.generics.params.is_empty() {
        errors.at(&sig.generics, "an upcaster cannot be generic");
        ok = false;
    }
    let input = match sig.inputs.iter().collect::<Vec<_>>().as_slice() {
        [FnArg::Typed(arg)] => Some(&*arg.ty),
        [FnArg::Receiver(receiver)] => {
            errors.at(
                receiver,
                "an upcaster is a free function; it takes no `self`",
            );
            None
        }
        [] => {
            errors.at(
                &sig.ident,
                "an upcaster takes the old payload: `fn up(old: Value) -> Result<Value, UpcastError>`",
            );
            None
        }
        [_, extra, ..] => {
            errors.at(
                extra,
                "an upcaster takes exactly one argument, the old payload",
            );
            None
        }
    };
    let output = match &sig.output {
        ReturnType::Type(_, ty) => Some(&**ty),
        ReturnType::Default => {
            errors.at(
                &sig.ident,
                "an upcaster returns the new payload: `Result<Value, UpcastError>`, or the new struct",
            );
            None
        }
    };
    let (input, output) = (input?, output?);
    if !ok {
        return None;
    }
    if last_ident(input).is_some_and(|i| i == "Value") {
        return Some(Form::Json);
    }
    if let Type::Reference(r) = input {
        errors.at(r, "an upcaster takes the old payload by value");
        return None;
    }
    if last_ident(output).is_some_and(|i| i.ends_with("Result")) {
        Some(Form::TypedFallible)
    } else {
        Some(Form::Typed)
    }
}

fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
