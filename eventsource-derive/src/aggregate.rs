//! `#[derive(Aggregate)]`: the aggregate's type name and snapshot policy.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Data, DeriveInput, LitStr, Path};

use crate::attr::{self, Key};
use crate::checks::{check_name, reject_generics};
use crate::diagnostics::Errors;
use crate::diagnostics::spanned_range;
use crate::fingerprint;
use crate::paths::runtime_path;

const KEYS: &[Key] = &[
    Key::Name,
    Key::SnapshotEvery,
    Key::SnapshotRevision,
    Key::Crate,
];

struct Model<'a> {
    input: &'a DeriveInput,
    krate: Path,
    name: Option<LitStr>,
    /// The interval, and the spans of its key and value, where a state
    /// without serde is reported.
    snapshot_every: Option<(u64, Span, Span)>,
    revision: u64,
}

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    let mut errors = Errors::new();
    let model = parse(&mut errors, &input);
    if errors.is_empty() {
        expand(&model)
    } else {
        let errors = errors.to_compile_errors();
        let fallback = fallback(&model);
        quote!(#errors #fallback)
    }
}

fn parse<'a>(errors: &mut Errors, input: &'a DeriveInput) -> Model<'a> {
    let args = attr::parse_attrs(
        errors,
        "#[aggregate]",
        &input.attrs,
        "aggregate",
        KEYS,
        "#[aggregate(name = \"...\")]",
    );
    let krate = runtime_path(errors, &args);
    let name = args.string(errors, Key::Name);
    let snapshot_every = args.positive(errors, Key::SnapshotEvery).map(|(n, lit)| {
        let key = args
            .get(Key::SnapshotEvery)
            .map_or(lit.span(), |a| a.span());
        (n, key, lit.span())
    });
    let explicit_revision = args.positive(errors, Key::SnapshotRevision);

    if let Data::Union(data) = &input.data {
        errors.at(
            data.union_token,
            "#[derive(Aggregate)] does not support unions; use a struct or an enum",
        );
    }
    reject_generics(errors, &input.generics, "an aggregate");
    if let Some(name) = &name {
        check_name(errors, name, "`name` in #[aggregate]");
    } else if args.missing(Key::Name) {
        errors.at(
            &input.ident,
            "missing #[aggregate(name = \"...\")]: every aggregate needs a stable type name",
        );
    }
    if let (Some((_, lit)), None) = (&explicit_revision, args.get(Key::SnapshotEvery)) {
        errors.at(
            lit,
            "`snapshot_revision` in #[aggregate] has no effect without `snapshot_every`",
        );
    }
    let revision = explicit_revision.map_or_else(|| fingerprint::shape(input), |(n, _)| n);
    Model {
        input,
        krate,
        name,
        snapshot_every,
        revision,
    }
}

fn expand(model: &Model<'_>) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.input.ident;
    let name = &model.name;
    let revision = model.revision;
    let (every, snapshot_fns, encode, decode) = match model.snapshot_every {
        Some((n, key, value)) => {
            // One bound check, spanned on `snapshot_every = N`: a state that
            // cannot be serialized is reported once, there.
            let call = spanned_range(
                quote!(#krate::__private::snapshot_fns::<#ident>),
                key,
                value,
            );
            (
                quote!(#krate::__private::Option::Some(#n)),
                quote! {
                    const SNAPSHOT: #krate::__private::SnapshotFns<#ident> = #call();
                },
                quote!(#krate::__private::Option::Some((SNAPSHOT.encode)(self))),
                quote!(#krate::__private::Option::Some((SNAPSHOT.decode)(state))),
            )
        }
        None => (
            quote!(#krate::__private::Option::None),
            TokenStream::new(),
            quote!(#krate::__private::Option::None),
            quote!(#krate::__private::Option::None),
        ),
    };
    quote! {
        const _: () = {
            #snapshot_fns

            #[automatically_derived]

            impl #krate::AggregateConfig for #ident {
                const NAME: &'static ::core::primitive::str = #name;
                const SNAPSHOT_EVERY: #krate::__private::Option<::core::primitive::u64> = #every;
                const SNAPSHOT_REVISION: ::core::primitive::u64 = #revision;

                fn encode_snapshot(
                    &self,
                ) -> #krate::__private::Option<
                    #krate::__private::Result<#krate::__private::String, #krate::__private::serde_json::Error>,
                > {
                    #encode
                }

                fn decode_snapshot(
                    state: &::core::primitive::str,
                ) -> #krate::__private::Option<
                    #krate::__private::Result<Self, #krate::__private::serde_json::Error>,
                > {
                    let _ = state;
                    #decode
                }
            }
        };
    }
}

fn fallback(model: &Model<'_>) -> TokenStream {
    if !model.input.generics.params.is_empty() || matches!(model.input.data, Data::Union(_)) {
        return TokenStream::new();
    }
    let krate = &model.krate;
    let ident = &model.input.ident;
    quote! {
        #[automatically_derived]
        impl #krate::AggregateConfig for #ident {
            const NAME: &'static ::core::primitive::str = "";
            const SNAPSHOT_EVERY: #krate::__private::Option<::core::primitive::u64> = #krate::__private::Option::None;
            const SNAPSHOT_REVISION: ::core::primitive::u64 = 0;
            fn encode_snapshot(
                &self,
            ) -> #krate::__private::Option<
                #krate::__private::Result<#krate::__private::String, #krate::__private::serde_json::Error>,
            > {
                #krate::__private::Option::None
            }
            fn decode_snapshot(
                _: &::core::primitive::str,
            ) -> #krate::__private::Option<
                #krate::__private::Result<Self, #krate::__private::serde_json::Error>,
            > {
                #krate::__private::Option::None
            }
        }
    }
}
