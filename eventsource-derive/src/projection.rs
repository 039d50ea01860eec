//! `#[projection]`: an impl block whose methods each handle one event type
//! to keep a read model, with an optional `#[reset]` method that clears it.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::attr::Key;
use crate::handler_block::expand::{Generated, argument, async_method, call};
use crate::handler_block::kind::{BlockKind, Context, Marker};
use crate::handler_block::model::{HandlerArg, Hook, replace_self};

/// A projection's words and rules.
pub(crate) const PROJECTION: BlockKind = BlockKind {
    attr: "#[projection]",
    noun: "projection",
    handler: "a projection handler",
    example: "`async fn on_event(&mut self, e: &MyEvent)`",
    item_example: "impl OrderSummary { ... }",
    name_keys: "its checkpoint is kept under",
    name_example: "orders.summary",
    receiver: "a projection handler takes `&mut self`: it updates the read model",
    no_event_hint: "; a method that clears the read model is marked #[reset]",
    extras: "`meta: &RecordedEvent` and the context `ctx: &mut C`",
    context_argument: "the context `ctx: &mut C`",
    context: Context::Chosen,
    keys: &[Key::Name, Key::Version, Key::Partitions, Key::Crate],
    reset: Marker::Marks,
    retire: Marker::Marks,
    start: Marker::Rejected(
        "#[start] only applies in a #[saga] block, where it marks the events that begin an instance; a projection handles every event it has a handler for",
    ),
    registration: "ProjectionRegistration",
};

/// Expands `#[projection]`.
pub(crate) fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
    crate::handler_block::attribute(&PROJECTION, trait_impl, args, item)
}

/// `impl Projection`: the context the handlers chose, whether it is
/// transactional, and the `#[reset]` method.
fn trait_impl(generated: &Generated<'_>) -> TokenStream {
    let Generated {
        model,
        self_ty,
        name,
        names,
        dispatch,
        ..
    } = *generated;
    let krate = &model.krate;
    let context = match &model.context {
        Some(ty) => ty.to_token_stream(),
        None => quote!(()),
    };
    let transactional = model
        .handlers
        .iter()
        .any(|h| h.args.iter().any(|e| matches!(e, HandlerArg::Context(_))));
    let reset = model.reset.as_ref().filter(|r| r.callable);
    // Exactly when the generated `reset` calls the user's method.
    let resets = reset.is_some();
    // The context is named (and captured by the future) only where it is used.
    let used = |used: bool| if used { quote!(context) } else { quote!(_) };
    let handle_context = used(
        model
            .handlers
            .iter()
            .any(|h| h.callable && h.args.iter().any(|e| matches!(e, HandlerArg::Context(_)))),
    );
    let reset_context = used(reset.is_some_and(|r| r.context.is_some()));
    let hook_call = |hook: &Hook, prefix: &str| {
        let args = hook
            .context
            .as_ref()
            .map(|ty| argument(quote!(&mut *context), ty));
        call(
            krate,
            &hook.method,
            quote!(#args),
            hook.asyncness,
            &hook.output,
            prefix,
        )
    };
    let reset = reset.map(|r| hook_call(r, "RESET"));
    let retire = model.retire.as_ref().filter(|r| r.callable);
    let retires = retire.is_some();
    let retire_context = used(retire.is_some_and(|r| r.context.is_some()));
    let retire = retire.map(|r| {
        let call = hook_call(r, "RETIRE");
        async_method(
            krate,
            quote!(retire),
            quote!(#retire_context: &'life1 mut __EventsourceContext,),
            &["'life1"],
            quote!(#krate::__private::Result<(), #krate::projection::ProjectionError>),
            quote! {
                #call
                #krate::__private::Result::Ok(())
            },
        )
    });
    let version = model
        .version
        .map(|v| quote!(const VERSION: ::core::primitive::u32 = #v;));
    let partitions = model
        .partitions
        .map(|n| quote!(const PARTITIONS: ::core::primitive::u32 = #n;));
    let error = quote!(#krate::projection::ProjectionError);
    let handle = async_method(
        krate,
        quote!(handle),
        quote! {
            record: &'life1 #krate::RecordedEvent,
            #handle_context: &'life2 mut __EventsourceContext,
        },
        &["'life1", "'life2"],
        quote!(#krate::__private::Result<::core::primitive::bool, #error>),
        dispatch.clone(),
    );
    let reset = async_method(
        krate,
        quote!(reset),
        quote!(#reset_context: &'life1 mut __EventsourceContext,),
        &["'life1"],
        quote!(#krate::__private::Result<(), #error>),
        quote! {
            #reset
            #krate::__private::Result::Ok(())
        },
    );
    // The context named once: a trait object (`dyn Store + Send`, the context
    // being unsized) gets its default lifetime, `'static`, as in
    // `type Context`, rather than the lifetime of the `&mut` around it.
    let alias = model.context.as_ref().map(|ty| replace_self(ty, self_ty));
    let alias = alias.map_or_else(|| quote!(()), |ty| ty.to_token_stream());
    quote! {
        type __EventsourceContext = #alias;

        #[automatically_derived]
        impl #krate::projection::Projection for #self_ty {
            const NAME: &'static ::core::primitive::str = #name;
            const EVENTS: &'static [&'static ::core::primitive::str] = #names;
            const TRANSACTIONAL: ::core::primitive::bool = #transactional;
            const RESETS: ::core::primitive::bool = #resets;
            const RETIRES: ::core::primitive::bool = #retires;
            #version
            #partitions
            type Context = #context;

            #handle

            #reset

            #retire
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::PROJECTION;
    use crate::diagnostics::Errors;

    #[test]
    fn one_mistake_gives_one_message() {
        let mut errors = Errors::new();
        let _ = crate::handler_block::read(
            &mut errors,
            &PROJECTION,
            quote!(name = "p"),
            quote! {
                impl P {
                    fn a(&mut self, e: A) {}
                    fn b(&mut self, e: &B, ctx: &mut C) {}
                    #[reset]
                    fn clear(&mut self, ctx: &mut D) {}
                }
            },
        );
        let found = errors.messages();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("a projection handler takes the event by shared reference"));
        assert!(found[1].starts_with("every method of a projection takes the same context"));
    }
}
