//! `#[projection]` and `#[saga]`: impl blocks whose methods each handle one
//! event type, to keep a read model or to drive a process.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Path, ReturnType, Type};

use crate::args;
use crate::common::{check_name, runtime_path, rust_path};
use crate::errors::Errors;

const KEYS: &[&str] = &["name", "crate"];
const RESET: &str = "reset";
const START: &str = "start";

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Projection,
    Saga,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Self::Projection => "#[projection]",
            Self::Saga => "#[saga]",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Projection => "projection",
            Self::Saga => "saga",
        }
    }
}

struct Handler {
    method: Ident,
    starts: bool,
    event: Type,
    asyncness: bool,
    fallible: bool,
    /// Extra arguments after the event, in declaration order.
    extras: Vec<Extra>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Extra {
    Meta,
    Context,
}

struct Reset {
    method: Ident,
    asyncness: bool,
    fallible: bool,
    with_context: bool,
}

struct Model {
    item: ItemImpl,
    krate: Path,
    name: Option<LitStr>,
    self_ident: Option<Ident>,
    handlers: Vec<Handler>,
    reset: Option<Reset>,
    context: Option<Type>,
}

pub(crate) fn attribute(kind: Kind, args: TokenStream, item: ItemImpl) -> TokenStream {
    let mut errors = Errors::new();
    let model = parse(&mut errors, kind, args, item);
    match (&model.self_ident, &model.name, errors.is_empty()) {
        (Some(self_ident), Some(name), true) => match kind {
            Kind::Projection => expand(&model, self_ident, name),
            Kind::Saga => expand_saga(&model, self_ident, name),
        },
        _ => {
            let errors = errors.to_compile_errors();
            let item = &model.item;
            quote!(#errors #item)
        }
    }
}

fn parse(errors: &mut Errors, kind: Kind, args: TokenStream, mut item: ItemImpl) -> Model {
    let attr = kind.attr();
    let noun = kind.noun();
    let args = args::parse(errors, attr, args, KEYS);
    let krate = runtime_path(errors, &args);
    let name = args.string(errors, "name");
    match &name {
        Some(name) => check_name(errors, name, &format!("the {noun} name")),
        None if args.get("name").is_none() => errors.at_span(
            Span::call_site(),
            format!("missing `name = \"...\"` in {attr}: the name keys the {noun}'s checkpoint"),
        ),
        None => {}
    }
    let self_ident = crate::common::impl_self_ident(errors, &item, attr);

    let mut handlers = Vec::new();
    let mut reset = None;
    let mut contexts: Vec<Type> = Vec::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(function) = impl_item else {
            continue;
        };
        let marked_reset = take_marker(errors, function, RESET);
        let marked_start = take_marker(errors, function, START);
        if kind == Kind::Saga && marked_reset {
            errors.at(
                &function.sig.ident,
                "a saga has no #[reset] method: sagas cannot be rebuilt",
            );
        } else if kind == Kind::Projection && marked_start {
            errors.at(
                &function.sig.ident,
                "#[start] marks the events that begin a saga; a projection has none",
            );
        } else if marked_reset {
            if reset.is_some() {
                errors.at(
                    &function.sig.ident,
                    "only one #[reset] method per projection",
                );
            } else if let Some(r) = parse_reset(errors, function, &mut contexts) {
                reset = Some(r);
            }
        } else if let Some(mut handler) = parse_handler(errors, kind, function, &mut contexts) {
            handler.starts = marked_start;
            handlers.push(handler);
        }
    }
    if kind == Kind::Saga {
        // A saga's context is always its `SagaContext`.
        contexts.clear();
        if !handlers.is_empty() && !handlers.iter().any(|h| h.starts) {
            errors.at(
                &item.self_ty,
                "no handler of this #[saga] is marked #[start]: mark the events that begin an instance",
            );
        }
    }

    let context = contexts.first().cloned();
    if let Some(first) = &context {
        let key = first.to_token_stream().to_string();
        for other in &contexts[1..] {
            if other.to_token_stream().to_string() != key {
                errors.at(
                    other,
                    format!(
                        "every handler of a projection takes the same context type; another takes `&mut {key}`"
                    ),
                );
            }
        }
    }
    let mut seen: HashMap<String, Ident> = HashMap::new();
    handlers.retain(|h| {
        let key = h.event.to_token_stream().to_string();
        match seen.get(&key) {
            Some(first) => {
                errors.at(
                    &h.event,
                    format!(
                        "two handlers for `{key}` in this projection: `{first}` and `{}`",
                        h.method
                    ),
                );
                false
            }
            None => {
                seen.insert(key, h.method.clone());
                true
            }
        }
    });
    if handlers.is_empty() && self_ident.is_some() {
        errors.at(
            &item.self_ty,
            format!("this {attr} block has no event handler: add `async fn on_event(&mut self, e: &MyEvent)`"),
        );
    }
    Model {
        item,
        krate,
        name,
        self_ident,
        handlers,
        reset,
        context,
    }
}

/// Removes a marker attribute (`#[reset]`, `#[start]`) from `function`.
fn take_marker(errors: &mut Errors, function: &mut ImplItemFn, marker: &str) -> bool {
    let mut found = false;
    function.attrs.retain(|attr| {
        if !attr.path().is_ident(marker) {
            return true;
        }
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            errors.at(attr, format!("#[{marker}] takes no arguments"));
        } else if found {
            errors.at(attr, format!("duplicate #[{marker}]"));
        }
        found = true;
        false
    });
    found
}

fn receiver_is_mut_self(function: &ImplItemFn) -> bool {
    matches!(
        function.sig.inputs.first(),
        Some(FnArg::Receiver(r)) if matches!(r.kind, syn::ReceiverKind::Reference(_, _, Some(_)))
    )
}

fn returns(errors: &mut Errors, function: &ImplItemFn, what: &str) -> Option<bool> {
    match &function.sig.output {
        ReturnType::Default => Some(false),
        ReturnType::Type(_, ty) => match &**ty {
            Type::Tuple(t) if t.elems.is_empty() => Some(false),
            Type::Path(p)
                if p.path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident.to_string().ends_with("Result")) =>
            {
                Some(true)
            }
            other => {
                errors.at(
                    other,
                    format!("{what} returns nothing or a `Result<(), E>` whose error converts into a boxed error"),
                );
                None
            }
        },
    }
}

fn plain(errors: &mut Errors, function: &ImplItemFn, what: &str) -> bool {
    let sig = &function.sig;
    let mut ok = true;
    if !sig.generics.params.is_empty() {
        errors.at(&sig.generics, format!("{what} cannot be generic"));
        ok = false;
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        errors.at(token, format!("{what} cannot be unsafe"));
        ok = false;
    }
    ok
}

fn parse_handler(
    errors: &mut Errors,
    kind: Kind,
    function: &ImplItemFn,
    contexts: &mut Vec<Type>,
) -> Option<Handler> {
    let shape = match kind {
        Kind::Projection => {
            "every method of a #[projection] block handles one event: \
            `async fn on_event(&mut self, e: &MyEvent)`, optionally followed by `meta: &RecordedEvent` \
            and a context `&mut C`; move other methods to another impl block"
        }
        Kind::Saga => {
            "every method of a #[saga] block handles one event: \
            `async fn on_event(&mut self, e: &MyEvent, ctx: &mut SagaContext<'_>)`, the context and \
            `meta: &RecordedEvent` being optional; move other methods to another impl block"
        }
    };
    let what = match kind {
        Kind::Projection => "a projection handler",
        Kind::Saga => "a saga handler",
    };
    let sig = &function.sig;
    if !receiver_is_mut_self(function) {
        errors.at(&sig.ident, shape);
        return None;
    }
    let ok = plain(errors, function, what);
    let mut params = sig.inputs.iter().skip(1);
    let event = match params.next() {
        Some(FnArg::Typed(arg)) => match &*arg.ty {
            Type::Reference(r) if r.mutability.is_none() => (*r.elem).clone(),
            other => {
                errors.at(
                    other,
                    "a projection handler takes the event by shared reference: `e: &MyEvent`",
                );
                return None;
            }
        },
        _ => {
            errors.at(&sig.ident, shape);
            return None;
        }
    };
    let mut extras = Vec::new();
    for param in params {
        let FnArg::Typed(arg) = param else { continue };
        let extra = match &*arg.ty {
            Type::Reference(r) if r.mutability.is_some() => {
                contexts.push((*r.elem).clone());
                Extra::Context
            }
            Type::Reference(_) => Extra::Meta,
            other => {
                errors.at(
                    other,
                    format!(
                        "after the event, {what} takes `&RecordedEvent` and/or a context `&mut C`"
                    ),
                );
                return None;
            }
        };
        if extras.contains(&extra) {
            errors.at(
                arg,
                "this argument kind is already taken by an earlier parameter",
            );
            return None;
        }
        extras.push(extra);
    }
    let fallible = returns(errors, function, what)?;
    ok.then(|| Handler {
        method: sig.ident.clone(),
        starts: false,
        event,
        asyncness: sig.asyncness.is_some(),
        fallible,
        extras,
    })
}

fn parse_reset(
    errors: &mut Errors,
    function: &ImplItemFn,
    contexts: &mut Vec<Type>,
) -> Option<Reset> {
    let sig = &function.sig;
    if !receiver_is_mut_self(function) {
        errors.at(
            &sig.ident,
            "the #[reset] method takes `&mut self` and, optionally, the context `&mut C`",
        );
        return None;
    }
    let ok = plain(errors, function, "the #[reset] method");
    let params: Vec<&FnArg> = sig.inputs.iter().skip(1).collect();
    let with_context = match params.as_slice() {
        [] => false,
        [FnArg::Typed(arg)] => match &*arg.ty {
            Type::Reference(r) if r.mutability.is_some() => {
                contexts.push((*r.elem).clone());
                true
            }
            other => {
                errors.at(
                    other,
                    "the #[reset] method's only argument is the context, `&mut C`",
                );
                return None;
            }
        },
        [_, extra, ..] => {
            errors.at(extra, "the #[reset] method takes at most the context");
            return None;
        }
        [FnArg::Receiver(_)] => return None,
    };
    let fallible = returns(errors, function, "the #[reset] method")?;
    ok.then(|| Reset {
        method: sig.ident.clone(),
        asyncness: sig.asyncness.is_some(),
        fallible,
        with_context,
    })
}

/// A call to a user method: awaited if async, its error converted if fallible.
fn call(
    krate: &Path,
    call: TokenStream,
    asyncness: bool,
    fallible: bool,
    span: Span,
) -> TokenStream {
    let awaited = if asyncness { quote!(#call.await) } else { call };
    if fallible {
        quote_spanned! {span=>
            if let #krate::__private::Result::Err(error) =
                #krate::__private::HandlerResult::into_result(#awaited)
            {
                return #krate::__private::Result::Err(#krate::__private::projection_error(error));
            }
        }
    } else {
        quote!(#awaited;)
    }
}

/// Compile-time checks that every handled type is an event, spanned on it.
fn event_checks(model: &Model) -> TokenStream {
    let krate = &model.krate;
    model
        .handlers
        .iter()
        .map(|h| {
            let ty = &h.event;
            quote_spanned! {ty.span()=>
                const _: () = #krate::__private::assert_event::<#ty>();
            }
        })
        .collect()
}

/// The body of `handle`: decode the record as the matching event and call its handler.
fn dispatch_arms(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let arms = model.handlers.iter().map(|h| {
        let method = &h.method;
        let ty = &h.event;
        let extras = h.extras.iter().map(|extra| match extra {
            Extra::Meta => quote!(, record),
            Extra::Context => quote!(, &mut *context),
        });
        let invoke = call(
            krate,
            quote!(Self::#method(self, &event #(#extras)*)),
            h.asyncness,
            h.fallible,
            method.span(),
        );
        quote! {
            if <#ty as #krate::Event>::is_named(name) {
                let event = match #krate::__private::decode_event::<#ty>(record) {
                    #krate::__private::Result::Ok(event) => event,
                    #krate::__private::Result::Err(error) => {
                        return #krate::__private::Result::Err(
                            #krate::projection::ProjectionError::Decode(error),
                        );
                    }
                };
                #invoke
                return #krate::__private::Result::Ok(true);
            }
        }
    });
    quote! {
        let _ = &context;
        let name: &str = &record.event_name;
        #(#arms)*
        #krate::__private::Result::Ok(false)
    }
}

fn expand(model: &Model, self_ident: &Ident, name: &LitStr) -> TokenStream {
    let krate = &model.krate;
    let item = &model.item;
    let context = match &model.context {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    let transactional = model.context.is_some();
    let types: Vec<&Type> = model.handlers.iter().map(|h| &h.event).collect();
    let checks = event_checks(model);
    let arms = dispatch_arms(model);
    let reset = match &model.reset {
        Some(r) => {
            let method = &r.method;
            let context_arg = r.with_context.then(|| quote!(, &mut *context));
            let invoke = call(
                krate,
                quote!(Self::#method(self #context_arg)),
                r.asyncness,
                r.fallible,
                method.span(),
            );
            quote!(#invoke)
        }
        None => quote!(let _ = context;),
    };
    let rust_type = rust_path(self_ident);
    quote! {
        #item

        #checks

        #[#krate::__private::async_trait]
        impl #krate::projection::Projection for #self_ident {
            const NAME: &'static str = #name;
            const EVENTS: &'static [&'static str] = &[#(<#types as #krate::Event>::NAME),*];
            const TRANSACTIONAL: bool = #transactional;
            type Context = #context;

            async fn handle(
                &mut self,
                record: &#krate::RecordedEvent,
                context: &mut Self::Context,
            ) -> #krate::__private::Result<bool, #krate::projection::ProjectionError> {
                #arms
            }

            async fn reset(
                &mut self,
                context: &mut Self::Context,
            ) -> #krate::__private::Result<(), #krate::projection::ProjectionError> {
                #reset
                #krate::__private::Result::Ok(())
            }
        }

        #krate::__private::inventory::submit! {
            #krate::registry::ProjectionRegistration {
                name: #name,
                rust_type: #rust_type,
                events: &[#(<#types as #krate::Event>::NAME),*],
            }
        }
    }
}

fn expand_saga(model: &Model, self_ident: &Ident, name: &LitStr) -> TokenStream {
    let krate = &model.krate;
    let item = &model.item;
    let types: Vec<&Type> = model.handlers.iter().map(|h| &h.event).collect();
    let starts = model.handlers.iter().filter(|h| h.starts).map(|h| &h.event);
    let checks = event_checks(model);
    let arms = dispatch_arms(model);
    let rust_type = rust_path(self_ident);
    quote! {
        #item

        #checks

        #[#krate::__private::async_trait]
        impl #krate::saga::Saga for #self_ident {
            const NAME: &'static str = #name;
            const EVENTS: &'static [&'static str] = &[#(<#types as #krate::Event>::NAME),*];

            fn starts(record: &#krate::RecordedEvent) -> bool {
                let name: &str = &record.event_name;
                false #(|| <#starts as #krate::Event>::is_named(name))*
            }

            async fn handle(
                &mut self,
                record: &#krate::RecordedEvent,
                context: &mut #krate::saga::SagaContext<'_>,
            ) -> #krate::__private::Result<bool, #krate::projection::ProjectionError> {
                #arms
            }
        }

        #krate::__private::inventory::submit! {
            #krate::registry::SagaRegistration {
                name: #name,
                rust_type: #rust_type,
                events: &[#(<#types as #krate::Event>::NAME),*],
            }
        }
    }
}
