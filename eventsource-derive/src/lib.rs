//! Procedural macros for [eventsource](https://docs.rs/eventsource-cqrs)
//! (the package `eventsource-cqrs` on crates.io, whose library is `eventsource`).
//!
//! Use them through `eventsource` (`use eventsource::prelude::*;`), which
//! re-exports them next to the traits they implement. Each macro parses its
//! input into a typed model, checks it, reports every mistake at once spanned
//! on the offending token, and generates code that names the runtime only
//! through absolute paths.

// docs.rs (nightly, `--cfg docsrs`) marks items that need a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aggregate;
mod aggregate_impl;
mod attr;
mod checks;
mod command;
mod diagnostics;
mod event;
mod fingerprint;
mod handler_block;
mod paths;
mod personal;
mod projection;
mod query;
mod read_model;
mod saga;
mod signature;
mod unparsed_bodies;
mod upcaster;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Declares a domain event: `#[event(name = "...", version = N, aliases = [...])]`.
///
/// `name` is stored with every event and must never change; `version`
/// (default 1) is the current schema version; `aliases` are earlier names
/// whose records decode to this type. Registers the event in the registry.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    event::derive(parse_macro_input!(input as DeriveInput)).into()
}

/// Declares an aggregate: `#[aggregate(name = "...", snapshot_every = N)]`.
///
/// `snapshot_revision = N` sets the state's schema revision explicitly; by
/// default it is a fingerprint of the fields, so a changed struct ignores
/// snapshots taken by the old one.
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    aggregate::derive(parse_macro_input!(input as DeriveInput)).into()
}

/// Declares a command: `#[command(aggregate = Type)]`, with the target id
/// field marked `#[aggregate_id]`.
#[proc_macro_derive(Command, attributes(command, aggregate_id))]
pub fn derive_command(input: TokenStream) -> TokenStream {
    command::derive(parse_macro_input!(input as DeriveInput)).into()
}

/// Declares a query: `#[query(result = Type)]` names the type it is
/// answered with (`name = "..."` its registered name, by default its Rust
/// path; `crate = path`). Registers the query.
#[proc_macro_derive(Query, attributes(query))]
pub fn derive_query(input: TokenStream) -> TokenStream {
    query::derive(parse_macro_input!(input as DeriveInput)).into()
}

/// Collects a read model's `#[query_handler]` methods: each answers one
/// query type, `[async] fn name(&self, q: &MyQuery) -> Answer` (or
/// `-> Result<Answer, E>`, or the query by value when it is `Clone`),
/// where `Answer` is the query's result type.
///
/// `projection = Type` (`Self` when the read model is itself the
/// projection) or `projection = "name"` names the projection that keeps the
/// read model, for reads at a position and subscriptions; `crate = path`.
#[proc_macro_attribute]
pub fn read_model(args: TokenStream, input: TokenStream) -> TokenStream {
    read_model::attribute(args.into(), input.into()).into()
}

/// Marks a query handler inside a `#[read_model]` block. Outside it, it is
/// an error.
#[proc_macro_attribute]
pub fn query_handler(args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced_in("#[query_handler]", "#[read_model]", args, input)
}

/// Collects an aggregate's `#[command_handler]` and `#[event_sourcing_handler]`
/// methods; generates its event enum, apply dispatch and command routing.
///
/// Options: `event_enum = Name` (default: the aggregate's name + `Event`),
/// `vis = pub(crate)` (or `vis = "pub(crate)"`) for the enum (default `pub`;
/// it must be at least as visible as the aggregate), `crate = path`.
#[proc_macro_attribute]
pub fn aggregate_impl(args: TokenStream, input: TokenStream) -> TokenStream {
    aggregate_impl::attribute(args.into(), input.into()).into()
}

/// Marks a command handler inside an `#[aggregate_impl]` block.
///
/// `#[command_handler(create)]`: the command creates the aggregate, whose
/// stream must not exist; `create_if_missing`: it may act on a new or an
/// existing aggregate. Outside `#[aggregate_impl]` it is an error.
#[proc_macro_attribute]
pub fn command_handler(args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("#[command_handler]", args, input)
}

/// Marks an event sourcing handler inside an `#[aggregate_impl]` block.
/// Outside it, it is an error.
#[proc_macro_attribute]
pub fn event_sourcing_handler(args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced("#[event_sourcing_handler]", args, input)
}

/// Registers an upcaster: `#[upcaster(event = "...", from = N)]` on a function
/// from the payload at version N to the payload at N + 1, either on JSON
/// (`serde_json::Value` in, `Value` or `Result<Value, UpcastError>` out) or
/// on typed structs (old struct in, new struct or `Result<New, UpcastError>`
/// out).
///
/// The typed form is also the fast one for the last step of a chain: when
/// the new struct is the event type itself, the decoder takes it as the
/// upcaster built it (no JSON value in between), and a record one version
/// behind is decoded from its text straight into the old struct.
#[proc_macro_attribute]
pub fn upcaster(args: TokenStream, input: TokenStream) -> TokenStream {
    upcaster::attribute(args.into(), input.into()).into()
}

/// Declares a projection: `#[projection(name = "...")]` on an impl block
/// whose methods each handle one event type (`crate = path` names the
/// runtime when it is not `::eventsource`).
///
/// A handler is `async fn on_x(&mut self, e: &MyEvent)` (or a plain `fn`),
/// optionally followed by `meta: &RecordedEvent` and a context `ctx: &mut C`
/// (for example a database connection inside the batch's transaction), in
/// either order, and returns nothing or `Result<(), E>` with `E` converting
/// into `Box<dyn Error + Send + Sync>`. Every handler taking a context takes
/// the same `C`, which becomes the projection's `Context`; it is
/// transactional if any does. One method may be marked `#[reset]`,
/// `fn clear(&mut self)` or `fn clear(&mut self, ctx: &mut C)`: it clears the
/// read model before a rebuild.
#[proc_macro_attribute]
pub fn projection(args: TokenStream, input: TokenStream) -> TokenStream {
    projection::attribute(args.into(), input.into()).into()
}

/// Declares a saga (process manager): `#[saga(name = "...")]` on an impl
/// block of the saga's state type (`Default`, `Serialize`, `Deserialize`),
/// whose methods each handle one event type.
///
/// A handler is `async fn on_x(&mut self, e: &MyEvent, ctx: &mut SagaContext<'_>)`
/// (or a plain `fn`; the context and a `meta: &RecordedEvent` are optional)
/// returning nothing or `Result<(), E>`. Handlers marked `#[start]`, at least
/// one, may begin a new instance; other events only reach instances that
/// exist for their correlation id. A saga has no `#[reset]`: replaying it
/// would dispatch its commands again.
#[proc_macro_attribute]
pub fn saga(args: TokenStream, input: TokenStream) -> TokenStream {
    saga::attribute(args.into(), input.into()).into()
}

fn misplaced(attr: &str, args: TokenStream, input: TokenStream) -> TokenStream {
    misplaced_in(attr, "#[aggregate_impl]", args, input)
}

/// The error for a handler attribute `attr` found outside a `block`.
fn misplaced_in(attr: &str, block: &str, _args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let message = format!("{attr} only works on a method inside an `impl` block marked {block}");
    let error = match syn::parse2::<syn::ImplItemFn>(input.clone()) {
        Ok(function) => syn::Error::new(function.sig.ident.span(), message),
        Err(_) => syn::Error::new_spanned(diagnostics::item_head(&input), message),
    };
    let error = error.to_compile_error();
    quote::quote!(#error #input).into()
}

#[cfg(test)]
mod tests {
    use proc_macro2::{TokenStream, TokenTree};

    /// Whether `tokens` name the runtime by its default name anywhere.
    fn names_eventsource(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tree| match tree {
            TokenTree::Ident(ident) => ident == "eventsource",
            TokenTree::Group(group) => names_eventsource(group.stream()),
            _ => false,
        })
    }

    #[test]
    fn crate_path_replaces_every_runtime_path() {
        let event = crate::event::derive(syn::parse_quote! {
            #[event(name = "a.B", version = 2, aliases = ["a.C"], crate = rt)]
            struct B;
        });
        let aggregate = crate::aggregate::derive(syn::parse_quote! {
            #[aggregate(name = "a.A", snapshot_every = 2, crate = rt)]
            struct A;
        });
        let command = crate::command::derive(syn::parse_quote! {
            #[command(aggregate = A, crate = rt)]
            struct C(#[aggregate_id] u32);
        });
        let handlers = crate::aggregate_impl::attribute(
            quote::quote!(crate = rt),
            quote::quote! {
                impl A {
                    #[command_handler]
                    fn c(&self, c: C, m: &Metadata) -> Result<Vec<B>, E> { todo!() }
                    #[event_sourcing_handler]
                    fn b(&mut self, b: &B) {}
                }
            },
        );
        let upcasters = [
            quote::quote!(
                fn up(v: Value) -> Result<Value, UpcastError> {
                    Ok(v)
                }
            ),
            quote::quote!(
                fn up(v: Old) -> B {
                    todo!()
                }
            ),
            quote::quote!(
                fn up(v: Old) -> Result<B, UpcastError> {
                    todo!()
                }
            ),
        ]
        .map(|f| crate::upcaster::attribute(quote::quote!(event = "a.B", from = 1, crate = rt), f));
        let projection = crate::projection::attribute(
            quote::quote!(name = "a.p", crate = rt),
            quote::quote! {
                impl P {
                    async fn b(&mut self, b: &B, m: &RecordedEvent, c: &mut Conn) -> Result<(), E> {
                        Ok(())
                    }
                    fn a(&mut self, a: &A) -> Outcome { todo!() }
                    #[reset]
                    fn clear(&mut self, c: &mut Conn) {}
                }
            },
        );
        let saga = crate::saga::attribute(
            quote::quote!(name = "a.s", crate = rt),
            quote::quote! {
                impl S {
                    #[start]
                    async fn b(&mut self, b: &B, c: &mut SagaContext<'_>) -> Result<(), E> {
                        Ok(())
                    }
                    fn a(&mut self, a: &A, m: &RecordedEvent) {}
                }
            },
        );
        let query = crate::query::derive(syn::parse_quote! {
            #[query(result = Option<u32>, crate = rt)]
            struct Q;
        });
        let read_model = crate::read_model::attribute(
            quote::quote!(projection = Self, crate = rt),
            quote::quote! {
                impl R {
                    #[query_handler]
                    async fn q(&self, q: &Q) -> Result<Option<u32>, E> { todo!() }
                    #[query_handler]
                    fn v(&self, q: V) -> anyhow::Result<u8> { todo!() }
                    #[query_handler]
                    fn w(&self, q: &W) -> u8 { todo!() }
                }
            },
        );
        for (what, tokens) in [
            ("query", query),
            ("read_model", read_model),
            ("event", event),
            ("aggregate", aggregate),
            ("command", command),
            ("aggregate_impl", handlers),
            ("projection", projection),
            ("saga", saga),
        ]
        .into_iter()
        .chain(upcasters.into_iter().map(|u| ("upcaster", u)))
        {
            let text = tokens.to_string();
            assert!(!text.contains("compile_error"), "{what}: {text}");
            assert!(
                !names_eventsource(tokens),
                "{what} names ::eventsource: {text}"
            );
        }
    }
}
