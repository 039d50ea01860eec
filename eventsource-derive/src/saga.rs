//! `#[saga]`: an impl block of a saga's state whose methods each handle one
//! event type, those marked `#[start]` beginning an instance.

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr::Key;
use crate::diagnostics::{first_last_spans, spanned_range};
use crate::handler_block::expand::{Generated, async_method};
use crate::handler_block::kind::{BlockKind, Context, Marker};
use crate::handler_block::model::HandlerArg;

/// A saga's words and rules.
pub(crate) const SAGA: BlockKind = BlockKind {
    attr: "#[saga]",
    noun: "saga",
    handler: "a saga handler",
    example: "`async fn on_event(&mut self, e: &MyEvent, ctx: &mut SagaContext<'_>)`",
    item_example: "impl Fulfilment { ... }",
    name_keys: "its checkpoint and instances are kept under",
    name_example: "orders.fulfilment",
    receiver: "a saga handler takes `&mut self`: it updates the instance's state",
    no_event_hint: "",
    extras: "`meta: &RecordedEvent` and the context `ctx: &mut SagaContext<'_>`",
    context_argument: "the context `ctx: &mut SagaContext<'_>`",
    context: Context::Given,
    keys: &[Key::Name, Key::Crate, Key::Dispatches, Key::Partitions],
    reset: Marker::Rejected(
        "a saga has no #[reset] method: it is never rebuilt, as replaying it would dispatch its commands again",
    ),
    retire: Marker::Rejected(
        "a saga has no #[retire] method: it has no versions, its instances keep their state",
    ),
    start: Marker::Marks,
    registration: "SagaRegistration",
};

/// Expands `#[saga]`.
pub(crate) fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    crate::handler_block::attribute(&SAGA, trait_impl, args, item)
}

/// `impl Saga`: the events that start an instance, and the handlers.
fn trait_impl(generated: &Generated<'_>) -> TokenStream {
    let Generated {
        model,
        self_ty,
        name,
        names,
        events,
        dispatch,
    } = *generated;
    let krate = &model.krate;
    let starts = model
        .handlers
        .iter()
        .zip(events)
        .filter(|(h, _)| h.starts)
        .map(|(_, event)| event);
    let context = if model
        .handlers
        .iter()
        .any(|h| h.callable && h.args.iter().any(|e| matches!(e, HandlerArg::Context(_))))
    {
        quote!(context)
    } else {
        quote!(_)
    };
    // One constant per declared command, spanned on the user's type: a
    // type that is not a command is reported there.
    let dispatches = model.dispatches.as_ref().map(|types| {
        let names = types.iter().map(|ty| {
            let (first, last) = first_last_spans(ty);
            spanned_range(
                quote!(#krate::__private::command_name::<#ty>()),
                first,
                last,
            )
        });
        quote! {
            const DISPATCHES: #krate::__private::Option<&'static [&'static ::core::primitive::str]> =
                #krate::__private::Option::Some(&[#(#names),*]);
        }
    });
    let partitions = model
        .partitions
        .map(|n| quote!(const PARTITIONS: ::core::primitive::u32 = #n;));
    let handle = async_method(
        krate,
        quote!(handle),
        quote! {
            record: &'life1 #krate::RecordedEvent,
            #context: &'life2 mut #krate::saga::SagaContext<'life3>,
        },
        &["'life1", "'life2", "'life3"],
        quote! {
            #krate::__private::Result<::core::primitive::bool, #krate::projection::ProjectionError>
        },
        dispatch.clone(),
    );
    quote! {
        #[automatically_derived]
        impl #krate::saga::Saga for #self_ty {
            const NAME: &'static ::core::primitive::str = #name;
            const EVENTS: &'static [&'static ::core::primitive::str] = #names;
            #dispatches
            #partitions

            fn starts(record: &#krate::RecordedEvent) -> ::core::primitive::bool {
                #krate::__private::is_any_of(record, &[#(#starts.is_named),*])
            }

            #handle
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::SAGA;
    use crate::diagnostics::Errors;

    #[test]
    fn a_broken_start_handler_still_counts_as_one() {
        let mut errors = Errors::new();
        let _ = crate::handler_block::read(
            &mut errors,
            &SAGA,
            quote!(name = "s"),
            quote! {
                impl S {
                    #[start]
                    fn a(&self, e: &A) {}
                    fn b(&mut self, e: &B) {}
                }
            },
        );
        assert_eq!(
            errors.messages(),
            ["a saga handler takes `&mut self`: it updates the instance's state"]
        );
    }
}
