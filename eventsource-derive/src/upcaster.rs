//! `#[upcaster]`: registers a function that lifts a stored payload one version up.
//!
//! The function takes the old payload and returns the new one, each either as
//! JSON (`serde_json::Value`) or as a typed struct, the result optionally in a
//! `Result<_, UpcastError>`. The generated wrapper converts between JSON and
//! the declared types, with each conversion spanned on the user's type so a
//! missing `Deserialize` or `Serialize` is reported there.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{FnArg, Item, ItemFn, ReturnType, Type};

use crate::attr::{self, Args, Key};
use crate::checks::check_name;
use crate::diagnostics::Errors;
use crate::diagnostics::{first_last_spans, item_head, spanned_range};
use crate::paths::runtime_path;
use crate::signature::{self, Generics, Plain};
use crate::unparsed_bodies;

const KEYS: &[Key] = &[Key::Event, Key::From, Key::Crate];

/// A checked upcaster signature.
struct Signature<'a> {
    input: &'a Type,
    output: &'a Type,
    /// Whether the output is a `Result` (by its name).
    fallible: bool,
    /// The new payload's type: the `Ok` type of a `Result` when written out.
    new: Option<&'a Type>,
}

pub(crate) fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let args_span = (!args.is_empty()).then(|| args.clone());
    let args = attr::parse(&mut errors, "#[upcaster]", args, KEYS);
    let krate = runtime_path(&mut errors, &args);
    let event = args.string(&mut errors, Key::Event);
    let from = args.positive_u32(&mut errors, Key::From).map(|(n, _)| n);
    if let Some(name) = &event {
        check_name(&mut errors, name, "`event` in #[upcaster]");
    }

    let mut function = match unparsed_bodies::item(&item) {
        Ok(Item::Fn(function)) => function,
        _ => {
            errors.at(
                item_head(&item),
                "#[upcaster] goes on a free function: `fn up(old: Value) -> Result<Value, UpcastError>`",
            );
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    missing_keys(&mut errors, &args, args_span, &function);
    let signature = signature(&mut errors, &function);
    match (event, from, signature, errors.is_empty()) {
        (Some(event), Some(from), Some(signature), true) => {
            let registration = registration(&krate, &function.sig.ident, &event, from, &signature);
            quote! {
                #function

                const _: () = {
                    #registration
                };
            }
        }
        _ => {
            // A variadic signature was reported; the `...` is removed so the
            // compiler does not report it a second time.
            function.sig.variadic = None;
            let errors = errors.to_compile_errors();
            quote!(#errors #function)
        }
    }
}

/// One error for the missing keys, on the attribute's arguments (or on the
/// function when there are none).
fn missing_keys(
    errors: &mut Errors,
    args: &Args,
    args_span: Option<TokenStream>,
    function: &ItemFn,
) {
    let what = match (args.missing(Key::Event), args.missing(Key::From)) {
        (true, true) => {
            "`event = \"...\"` and `from = N`, the event it upgrades and the version it upgrades from"
        }
        (true, false) => "`event = \"...\"`, the name of the event it upgrades",
        (false, true) => "`from = N`, the version it upgrades from",
        (false, false) => return,
    };
    let message = format!(
        "#[upcaster] needs {what}: `#[upcaster(event = \"bank.AccountOpened\", from = 1)]`"
    );
    match args_span {
        Some(tokens) => errors.at(tokens, message),
        None => errors.at(&function.sig.ident, message),
    }
}

fn signature<'a>(errors: &mut Errors, function: &'a ItemFn) -> Option<Signature<'a>> {
    let sig = &function.sig;
    let ok = signature::check_plain(
        errors,
        sig,
        &Plain {
            what: "an upcaster",
            not_async: Some("it must be a pure function of the payload"),
            generics: Generics::None,
        },
    );
    let inputs: Vec<&FnArg> = sig.inputs.iter().collect();
    if let Some(receiver) = inputs.iter().find(|arg| matches!(arg, FnArg::Receiver(_))) {
        errors.at(
            receiver,
            "#[upcaster] goes on a free function, not a method: an upcaster takes no `self`",
        );
        return None;
    }
    let input = match inputs.as_slice() {
        [FnArg::Typed(arg)] => &*arg.ty,
        [] => {
            errors.at(
                &sig.ident,
                "an upcaster takes the old payload: `fn up(old: Value) -> Result<Value, UpcastError>`",
            );
            return None;
        }
        [_, extra @ ..] => {
            let (first, last) = (extra.first(), extra.last());
            errors.at(
                quote!(#first #last),
                "an upcaster takes exactly one argument, the old payload",
            );
            return None;
        }
    };
    let output = match &sig.output {
        ReturnType::Type(_, ty) => &**ty,
        ReturnType::Default => {
            errors.at(
                &sig.ident,
                "an upcaster returns the new payload: `Result<Value, UpcastError>`, or the new struct",
            );
            return None;
        }
    };
    if let Type::Reference(r) = input {
        errors.at(
            r,
            "an upcaster takes the old payload by value: it consumes the old shape",
        );
        return None;
    }
    let returns = signature::returns(output);
    let (fallible, new) = match returns.is_result() {
        true => (true, returns.ok()),
        false => (false, Some(output)),
    };
    ok.then_some(Signature {
        input,
        output,
        fallible,
        new,
    })
}

/// The wrappers around the user's function and its registry entry.
///
/// The wrappers' names start with `__es_` so that none can shadow the
/// user's function, which they call from inside the same block.
fn registration(
    krate: &syn::Path,
    ident: &syn::Ident,
    event: &syn::LitStr,
    from: u32,
    sig: &Signature<'_>,
) -> TokenStream {
    let rust_fn = crate::paths::rust_path(ident);
    let (items, body, typed) = match sig.new.filter(|ty| !is_value(ty)) {
        Some(new) => typed(krate, ident, from, sig, new),
        None => (TokenStream::new(), json_body(krate, ident, sig), None),
    };
    let typed = typed.map(|typed| quote!(.with_typed(#typed)));
    // A typed input documents the older version: its schema, when it has
    // one, is that version's in the event catalogue and the schema lock.
    let (schema_fn, input_schema) = if is_value(sig.input) {
        (TokenStream::new(), TokenStream::new())
    } else {
        let input = sig.input;
        let p = quote!(#krate::__private);
        (
            quote! {
                fn __es_input_schema() -> #p::Option<#p::serde_json::Value> {
                    #p::SchemaProbe::<#input>::new().probe_schema()
                }
            },
            quote!(.with_input_schema(__es_input_schema)),
        )
    };
    quote! {
        #items
        #schema_fn

        fn __es_json(
            payload: #krate::__private::serde_json::Value,
        ) -> #krate::__private::Result<#krate::__private::serde_json::Value, #krate::UpcastError> {
            #body
        }

        #krate::__private::inventory::submit! {
            #krate::__private::UpcasterRegistration::new(#event, #from, __es_json, #rust_fn)
                #typed
                #input_schema
        }
    }
}

/// The old payload bound to the user's input type (spanned on it, so a
/// mismatch is reported there), from `value`.
fn bind_old(input: &Type, value: TokenStream) -> TokenStream {
    let (first, last) = first_last_spans(input);
    let binding = spanned_range(quote!(let old: #input), first, last);
    quote!(#binding = #value;)
}

/// The user's function called on `old`, its result bound to `new` (a
/// failure returned), spanned on the user's return type.
fn call_user(krate: &syn::Path, ident: &syn::Ident, sig: &Signature<'_>) -> TokenStream {
    let (first, last) = first_last_spans(sig.output);
    let call = spanned_range(quote!(#ident(old)), first, last);
    if sig.fallible {
        let ty = spanned_range(
            quote!(#krate::__private::Result<_, #krate::UpcastError>),
            first,
            last,
        );
        quote! {
            let new: #ty = #call;
            let new = new?;
        }
    } else {
        quote!(let new = #call;)
    }
}

/// A JSON-valued upcaster's wrapper body: JSON in, the user's function, JSON
/// out (a `Result` of anything but `Value` written out is encoded too).
fn json_body(krate: &syn::Path, ident: &syn::Ident, sig: &Signature<'_>) -> TokenStream {
    let old = if is_value(sig.input) {
        bind_old(sig.input, quote!(payload))
    } else {
        let (first, last) = first_last_spans(sig.input);
        let input = sig.input;
        let decode = spanned_range(
            quote!(#krate::__private::from_payload::<#input>),
            first,
            last,
        );
        bind_old(sig.input, quote!(#decode(payload)?))
    };
    let call = call_user(krate, ident, sig);
    let encode = match sig.new {
        Some(ty) => {
            let (first, last) = first_last_spans(ty);
            let ty = spanned_range(quote!(#ty), first, last);
            quote! {
                let new: #ty = new;
                #krate::__private::Result::Ok(new)
            }
        }
        None => {
            let (first, last) = first_last_spans(sig.output);
            let encode = spanned_range(quote!(#krate::__private::to_payload), first, last);
            let arg = spanned_range(quote!(&new), first, last);
            quote!(#encode(#arg))
        }
    };
    quote! {
        #old
        #call
        #encode
    }
}

/// A typed upcaster (its output a struct `new`): the items shared by its
/// wrappers (one conversion, the hand-over functions), the JSON wrapper's
/// body, and the registration's `typed` field.
fn typed(
    krate: &syn::Path,
    ident: &syn::Ident,
    from: u32,
    sig: &Signature<'_>,
    new: &Type,
) -> (TokenStream, TokenStream, Option<TokenStream>) {
    let input = sig.input;
    let p = quote!(#krate::__private);
    // One constant per side, spanned on the user's type: a missing
    // `Deserialize` or `Serialize` is reported once, there.
    let (in_first, in_last) = first_last_spans(input);
    let input_fns = spanned_range(quote!(#p::upcast_input::<#input>), in_first, in_last);
    let (out_first, out_last) = first_last_spans(new);
    let output_fns = spanned_range(quote!(#p::upcast_output::<#new>), out_first, out_last);
    let call = call_user(krate, ident, sig);
    let old_json = if is_value(input) {
        bind_old(input, quote!(payload))
    } else {
        bind_old(input, quote!((__ES_INPUT.from_value)(payload)?))
    };
    let (from_value_fn, from_value) = if is_value(input) {
        (TokenStream::new(), quote!(#p::Option::None))
    } else {
        (
            quote! {
                fn __es_from_value(
                    value: #p::serde_json::Value,
                    out: &mut dyn #p::Any,
                ) -> #p::Result<(), #p::DecodeErrorKind> {
                    #p::typed_from_value(value, out, #from, __ES_INPUT.from_value, __es_convert, __ES_OUTPUT.slot)
                }
            },
            quote!(#p::Option::Some(__es_from_value)),
        )
    };
    let items = quote! {
        const __ES_INPUT: #p::UpcastInputFns<#input> = #input_fns();
        const __ES_OUTPUT: #p::UpcastOutputFns<#new> = #output_fns();

        fn __es_convert(old: #input) -> #p::Result<#new, #krate::UpcastError> {
            #call
            #p::Result::Ok(new)
        }

        fn __es_from_text(
            text: &::core::primitive::str,
            out: &mut dyn #p::Any,
        ) -> #p::Result<(), #p::DecodeErrorKind> {
            #p::typed_from_text(text, out, #from, __ES_INPUT.from_text, __es_convert, __ES_OUTPUT.slot)
        }

        #from_value_fn
    };
    let body = quote! {
        #old_json
        let new = __es_convert(old)?;
        (__ES_OUTPUT.to_value)(&new)
    };
    let typed = quote! {
        #p::TypedUpcast {
            accepts: __ES_OUTPUT.accepts,
            from_text: __es_from_text,
            from_value: #from_value,
        }
    };
    (items, body, Some(typed))
}

/// `Value` or `serde_json::Value`: the JSON form.
fn is_value(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Value" && s.arguments.is_empty()),
        _ => false,
    }
}
