//! `#[derive(Event)]`: the event's stable name, schema version and aliases.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, LitStr, Path};

use crate::attr::{self, Key};
use crate::checks::{check_name, reject_generics};
use crate::diagnostics::Errors;
use crate::paths::{runtime_path, rust_path};
use crate::personal::{self, Personal};

const KEYS: &[Key] = &[Key::Name, Key::Version, Key::Aliases, Key::Crate];

struct Model<'a> {
    input: &'a DeriveInput,
    personal: Personal<'a>,
    krate: Path,
    name: Option<LitStr>,
    version: u32,
    aliases: Vec<LitStr>,
}

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    let mut errors = Errors::new();
    let model = parse(&mut errors, &input);
    if errors.is_empty() {
        expand(&model)
    } else {
        let fallback = fallback(&model);
        let errors = errors.to_compile_errors();
        quote!(#errors #fallback)
    }
}

fn parse<'a>(errors: &mut Errors, input: &'a DeriveInput) -> Model<'a> {
    let args = attr::parse_attrs(
        errors,
        "#[event]",
        &input.attrs,
        "event",
        KEYS,
        "#[event(name = \"...\")]",
    );
    let krate = runtime_path(errors, &args);
    let name = args.string(errors, Key::Name);
    let version = args
        .positive_u32(errors, Key::Version)
        .map_or(1, |(v, _)| v);
    let aliases = args.strings(errors, Key::Aliases);

    if let Data::Union(data) = &input.data {
        errors.at(
            data.union_token,
            "#[derive(Event)] does not support unions; use a struct or an enum",
        );
    }
    reject_generics(errors, &input.generics, "an event");
    if let Some(name) = &name {
        check_name(errors, name, "`name` in #[event]");
    } else if args.missing(Key::Name) {
        errors.at(
            &input.ident,
            "missing #[event(name = \"...\")]: every event needs a stable name to be stored under",
        );
    }
    for (i, alias) in aliases.iter().enumerate() {
        check_name(errors, alias, "an alias in #[event]");
        if name.as_ref().is_some_and(|n| n.value() == alias.value()) {
            errors.at(
                alias,
                "an alias must differ from the event's name: aliases are earlier names",
            );
        } else if aliases[..i].iter().any(|a| a.value() == alias.value()) {
            errors.at(alias, format!("duplicate alias `{}`", alias.value()));
        }
    }
    let personal = personal::parse(errors, input);
    Model {
        input,
        personal,
        krate,
        name,
        version,
        aliases,
    }
}

fn expand(model: &Model<'_>) -> TokenStream {
    let Model {
        krate,
        version,
        aliases,
        ..
    } = model;
    let ident = &model.input.ident;
    let name = &model.name;
    let rust_type = rust_path(ident);
    let with_personal = personal::expand(&model.personal, krate);
    quote! {
        #[automatically_derived]
        impl #krate::Event for #ident {
            const NAME: &'static ::core::primitive::str = #name;
            const VERSION: ::core::primitive::u32 = #version;
            const ALIASES: &'static [&'static ::core::primitive::str] = &[#(#aliases),*];

            fn upcasters() -> &'static #krate::__private::UpcasterChain {
                // Looked up once: the registry never changes once built.
                static CHAIN: #krate::__private::OnceLock<&'static #krate::__private::UpcasterChain> =
                    #krate::__private::OnceLock::new();
                // The name written out, not `Self::NAME`: a type missing one
                // of `Event`'s supertraits is reported once, on the impl.
                CHAIN.get_or_init(|| #krate::__private::Registry::global().chain(#name))
            }
        }

        #[automatically_derived]
        impl #krate::__private::EventSchema for #ident {
            fn event_schema() -> #krate::__private::Option<#krate::__private::serde_json::Value> {
                // Resolves to the schema when the type derives
                // `schemars::JsonSchema`, to `None` otherwise.
                #krate::__private::SchemaProbe::<#ident>::new().probe_schema()
            }
        }

        #krate::__private::inventory::submit! {
            #krate::__private::EventRegistration::of::<#ident>(#name, #version, &[#(#aliases),*], #rust_type)
                #with_personal
        }
    }
}

/// Keeps `T: Event` true after an error, so one mistake does not cascade
/// into errors wherever the type is used. Nothing is registered.
fn fallback(model: &Model<'_>) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.input.ident;
    if !model.input.generics.params.is_empty() || matches!(model.input.data, Data::Union(_)) {
        return TokenStream::new();
    }
    quote! {
        #[automatically_derived]
        impl #krate::Event for #ident {
            const NAME: &'static ::core::primitive::str = "";
            const VERSION: ::core::primitive::u32 = 1;
            const ALIASES: &'static [&'static ::core::primitive::str] = &[];
        }

        #[automatically_derived]
        impl #krate::__private::EventSchema for #ident {
            fn event_schema() -> #krate::__private::Option<#krate::__private::serde_json::Value> {
                #krate::__private::Option::None
            }
        }
    }
}
