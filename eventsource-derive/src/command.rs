//! `#[derive(Command)]`: which aggregate a command targets and which field holds its id.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Field, Fields, Index, LitStr, Member, Path};

use crate::attr::{self, Key};
use crate::checks::{check_name, reject_generics};
use crate::diagnostics::Errors;
use crate::diagnostics::{first_last_spans, spanned_range};
use crate::paths::{runtime_path, rust_path};

const KEYS: &[Key] = &[Key::Aggregate, Key::Name, Key::Crate];
const ID_ATTR: &str = "aggregate_id";

struct Model<'a> {
    input: &'a DeriveInput,
    krate: Path,
    aggregate: Option<Path>,
    name: Option<LitStr>,
    id: Option<(Member, &'a Field)>,
}

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    let mut errors = Errors::new();
    let model = parse(&mut errors, &input);
    match (&model.aggregate, &model.id, errors.is_empty()) {
        (Some(aggregate), Some(id), true) => expand(&model, aggregate, id),
        _ => {
            let errors = errors.to_compile_errors();
            let fallback = fallback(&model);
            quote!(#errors #fallback)
        }
    }
}

/// Keeps `T: Command` true after an error so uses of the type do not fail too.
fn fallback(model: &Model<'_>) -> TokenStream {
    let (Some(aggregate), Data::Struct(_), true) = (
        &model.aggregate,
        &model.input.data,
        model.input.generics.params.is_empty(),
    ) else {
        return TokenStream::new();
    };
    let krate = &model.krate;
    let ident = &model.input.ident;
    quote! {
        #[automatically_derived]
        impl #krate::Command for #ident {
            type Aggregate = #aggregate;
            const NAME: &'static ::core::primitive::str = "";
            fn aggregate_id(&self) -> #krate::__private::String {
                #krate::__private::String::new()
            }
        }
    }
}

fn parse<'a>(errors: &mut Errors, input: &'a DeriveInput) -> Model<'a> {
    let args = attr::parse_attrs(
        errors,
        "#[command]",
        &input.attrs,
        "command",
        KEYS,
        "#[command(aggregate = Account)]",
    );
    let krate = runtime_path(errors, &args);
    let aggregate = args.path(errors, Key::Aggregate, "Account");
    let name = args.string(errors, Key::Name);
    if let Some(name) = &name {
        check_name(errors, name, "`name` in #[command]");
    }
    reject_generics(errors, &input.generics, "a command");
    if args.missing(Key::Aggregate) {
        errors.at(
            &input.ident,
            "missing #[command(aggregate = ...)]: name the aggregate type that handles this command",
        );
    }
    let id = match &input.data {
        Data::Struct(data) => id_field(errors, input, &data.fields),
        Data::Enum(data) => {
            errors.at(
                data.enum_token,
                "#[derive(Command)] does not support enums; declare one struct per command",
            );
            None
        }
        Data::Union(data) => {
            errors.at(
                data.union_token,
                "#[derive(Command)] does not support unions; use a struct",
            );
            None
        }
    };
    Model {
        input,
        krate,
        aggregate,
        name,
        id,
    }
}

fn id_field<'a>(
    errors: &mut Errors,
    input: &DeriveInput,
    fields: &'a Fields,
) -> Option<(Member, &'a Field)> {
    let mut found: Option<(Member, &'a Field)> = None;
    for (i, field) in fields.iter().enumerate() {
        for attr in field.attrs.iter().filter(|a| a.path().is_ident(ID_ATTR)) {
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                errors.at(
                    attr,
                    "#[aggregate_id] takes no arguments: it marks the field it is on",
                );
            }
            if let Some((first, _)) = &found {
                errors.at(
                    attr,
                    format!(
                        "a command has one #[aggregate_id] field, and `{}` already is",
                        crate::diagnostics::render(first)
                    ),
                );
                continue;
            }
            let member = match &field.ident {
                Some(ident) => Member::Named(ident.clone()),
                None => Member::Unnamed(Index {
                    index: i as u32,
                    span: field.span(),
                }),
            };
            found = Some((member, field));
        }
    }
    if found.is_none() {
        errors.at(
            &input.ident,
            "missing #[aggregate_id]: mark the field holding the target aggregate's id",
        );
    }
    found
}

fn expand(model: &Model<'_>, aggregate: &Path, (member, field): &(Member, &Field)) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.input.ident;
    let rust_type = rust_path(ident);
    let name = match &model.name {
        Some(name) => quote!(#name),
        None => rust_type.clone(),
    };
    // Spanned on the id field's type: a type without `Display` is reported there.
    let id_ty = &field.ty;
    let (first, last) = first_last_spans(id_ty);
    let id_fn = spanned_range(
        quote!(#krate::__private::aggregate_id::<#id_ty>),
        first,
        last,
    );
    let id_arg = spanned_range(quote!(&self.#member), first, last);
    let to_string = quote!(#id_fn(#id_arg));
    quote! {
        #[automatically_derived]
        impl #krate::Command for #ident {
            type Aggregate = #aggregate;
            const NAME: &'static ::core::primitive::str = #name;

            fn aggregate_id(&self) -> #krate::__private::String {
                #to_string
            }
        }

        #krate::__private::inventory::submit! {
            #krate::__private::CommandRegistration::new(
                #name,
                #rust_type,
                #krate::__private::command_aggregate_name::<#ident>(),
            )
        }
    }
}
