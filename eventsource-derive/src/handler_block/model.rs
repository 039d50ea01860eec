//! The typed model of a `#[projection]` or `#[saga]` block, parsed and checked.
//!
//! A handler with a mistake in its signature is reported and, when its event
//! type could be read, kept but marked not callable: the event stays in the
//! list the trait impl declares, so the one mistake does not cascade into
//! errors about the rest of the block or about uses of the type.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Path, ReturnType, Signature,
    Type,
};

use super::kind::{BlockKind, Context, Marker};
use crate::attr::{Args, Key};
use crate::checks::check_name;
use crate::diagnostics::Errors;
use crate::diagnostics::render;
use crate::paths::runtime_path;
use crate::signature::{self, Generics, Plain, Receiver};

const RESET: &str = "reset";
const RETIRE: &str = "retire";
const START: &str = "start";

/// What a handler, the `#[reset]` or the `#[retire]` method returns.
pub(crate) enum Output {
    /// Nothing, or `()`.
    Unit,
    /// `Result<T, E>` written out: the whole type, and `E`.
    Result { ty: Type, error: Box<Type> },
    /// Any other type (an alias such as `anyhow::Result<()>`), checked whole.
    Other(Type),
}

/// An argument of a handler after the event.
pub(crate) enum HandlerArg {
    /// `meta: &RecordedEvent`: the declared type, where a mismatch is reported.
    Meta(Type),
    /// The context, `ctx: &mut C`: the declared type.
    Context(Type),
}

pub(crate) struct Handler {
    pub(crate) method: Ident,
    /// The event type, without the reference, `Self` replaced.
    pub(crate) event: Type,
    pub(crate) asyncness: bool,
    pub(crate) output: Output,
    pub(crate) args: Vec<HandlerArg>,
    /// Marked `#[start]` (sagas).
    pub(crate) starts: bool,
    /// False when the signature has a mistake (already reported): the
    /// generated impl then does not call the method.
    pub(crate) callable: bool,
}

/// A projection's `#[reset]` or `#[retire]` method: `&mut self` and,
/// optionally, the context.
pub(crate) struct Hook {
    pub(crate) method: Ident,
    pub(crate) asyncness: bool,
    pub(crate) output: Output,
    /// The declared `&mut C`, if the method takes the context.
    pub(crate) context: Option<Type>,
    pub(crate) callable: bool,
}

pub(crate) struct Model {
    pub(crate) kind: &'static BlockKind,
    pub(crate) item: ItemImpl,
    pub(crate) krate: Path,
    pub(crate) name: Option<LitStr>,
    /// The type the trait is implemented for, when the code can name it.
    pub(crate) self_ty: Option<Type>,
    /// `version = N`, when given.
    pub(crate) version: Option<u32>,
    /// `partitions = N`, when given.
    pub(crate) partitions: Option<u32>,
    pub(crate) handlers: Vec<Handler>,
    pub(crate) reset: Option<Hook>,
    pub(crate) retire: Option<Hook>,
    /// A projection's context type `C`, as the first method taking it declares it.
    pub(crate) context: Option<Type>,
    /// A saga's `dispatches = [...]`: the command types it declares.
    pub(crate) dispatches: Option<Vec<Type>>,
}

/// The first context type declared, and by which method.
type FirstContext = Option<(Type, Ident)>;

pub(crate) fn parse(
    errors: &mut Errors,
    kind: &'static BlockKind,
    args: &Args,
    args_tokens: &TokenStream,
    mut item: ItemImpl,
) -> Model {
    let (attr, noun) = (kind.attr, kind.noun);
    let krate = runtime_path(errors, args);
    let name = args.string(errors, Key::Name);
    if let Some(name) = &name {
        check_name(errors, name, &format!("`name` in {attr}"));
    }
    if args.missing(Key::Name) {
        let (what, example) = (kind.name_keys, kind.name_example);
        let message = format!(
            "{attr} needs `name = \"...\"`, the stable name {what}: `#[{noun}(name = \"{example}\")]`"
        );
        if args_tokens.is_empty() {
            errors.at_span(Span::call_site(), message);
        } else {
            errors.at(args_tokens, message);
        }
    }
    let version = kind
        .keys
        .contains(&Key::Version)
        .then(|| args.positive_u32(errors, Key::Version).map(|(v, _)| v))
        .flatten();
    // The runtime's bound (`eventsource::store::BUCKETS`): a partition is a
    // set of stream buckets, so there cannot be more partitions than buckets.
    let partitions = kind
        .keys
        .contains(&Key::Partitions)
        .then(|| {
            args.positive_at_most(errors, Key::Partitions, 1024)
                .map(|(n, _)| n)
        })
        .flatten();
    let dispatches = kind
        .keys
        .contains(&Key::Dispatches)
        .then(|| args.types(errors, Key::Dispatches, "[ReserveInventory, TakePayment]"))
        .flatten();
    let (self_ty, collect) = self_type(errors, kind, &item);

    let mut handlers: Vec<Handler> = Vec::new();
    let mut reset: Option<Hook> = None;
    let mut reset_method: Option<Ident> = None;
    let mut retire: Option<Hook> = None;
    let mut retire_method: Option<Ident> = None;
    let mut first_context: FirstContext = None;
    let mut seen: HashMap<String, Ident> = HashMap::new();
    // Methods meant as handlers, read or not, and how many are marked #[start]:
    // a broken handler is reported once, not again as a missing one.
    let mut attempted = 0;
    let mut starts = 0;
    for impl_item in &mut item.items {
        let ImplItem::Fn(function) = impl_item else {
            continue;
        };
        // Always taken off, so a block that cannot be expanded does not also
        // report each marker as an unknown attribute.
        let reset_attr = take_marker(errors, function, RESET);
        let retire_attr = take_marker(errors, function, RETIRE);
        let start_attr = take_marker(errors, function, START);
        if !collect {
            continue;
        }
        if let Some(retire_attr) = retire_attr {
            if reset_attr.is_some() {
                errors.at(
                    &retire_attr,
                    "a method is either #[reset] or #[retire]: one clears the read model before a rebuild, the other drops an old version's",
                );
            }
            match (kind.retire, &retire_method) {
                (Marker::Rejected(message), _) => errors.at(&retire_attr, message),
                (Marker::Marks, Some(first)) => errors.at(
                    &retire_attr,
                    format!(
                        "a projection has one #[retire] method, and `{first}` is already marked #[retire]"
                    ),
                ),
                (Marker::Marks, None) => {
                    retire_method = Some(function.sig.ident.clone());
                    retire = Some(parse_hook(errors, function, &mut first_context, &RETIRE_HOOK));
                }
            }
            function.sig.variadic = None;
            continue;
        }
        if let (Marker::Rejected(message), Some(start)) = (kind.start, &start_attr) {
            errors.at(start, message);
        }
        if let Some(reset_attr) = reset_attr {
            match (kind.reset, &reset_method) {
                (Marker::Rejected(message), _) => errors.at(&reset_attr, message),
                (Marker::Marks, Some(first)) => errors.at(
                    &reset_attr,
                    format!(
                        "a projection has one #[reset] method, and `{first}` is already marked #[reset]"
                    ),
                ),
                (Marker::Marks, None) => {
                    reset_method = Some(function.sig.ident.clone());
                    reset = Some(parse_hook(errors, function, &mut first_context, &RESET_HOOK));
                }
            }
            function.sig.variadic = None;
            continue;
        }
        attempted += 1;
        let marked_start = matches!(kind.start, Marker::Marks) && start_attr.is_some();
        starts += usize::from(marked_start);
        let handler = parse_handler(errors, kind, function, &mut first_context);
        // A variadic handler was reported; the `...` is removed so the
        // compiler does not report it a second time.
        function.sig.variadic = None;
        let Some(mut handler) = handler else { continue };
        handler.starts = marked_start;
        if let Some(self_ty) = &self_ty {
            handler.event = replace_self(&handler.event, self_ty);
            handler.output = output_replacing_self(handler.output, self_ty);
        }
        let key = render(&handler.event);
        if let Some(first) = seen.get(&key) {
            errors.at(
                &handler.event,
                format!(
                    "two handlers for `{key}` in this {noun}: `{first}` and `{}`; an event has one handler",
                    handler.method
                ),
            );
            continue;
        }
        seen.insert(key, handler.method.clone());
        handlers.push(handler);
    }
    if let Some(self_ty) = &self_ty {
        for hook in [&mut reset, &mut retire].into_iter().flatten() {
            let output = std::mem::replace(&mut hook.output, Output::Unit);
            hook.output = output_replacing_self(output, self_ty);
        }
    }

    if collect && attempted == 0 {
        errors.at(
            &item.self_ty,
            format!(
                "this {attr} block has no event handler: add one per event, such as {}",
                kind.example
            ),
        );
    }
    if collect && matches!(kind.start, Marker::Marks) && attempted > 0 && starts == 0 {
        errors.at(
            &item.self_ty,
            "no handler of this #[saga] is marked #[start]: mark the handlers of the events that begin an instance, such as `#[start] async fn on_placed(&mut self, e: &OrderPlaced, ctx: &mut SagaContext<'_>)`",
        );
    }
    let context = match kind.context {
        Context::Chosen => first_context.map(|(ty, _)| referent(&ty)),
        Context::Given => None,
    };
    Model {
        kind,
        item,
        krate,
        name,
        self_ty,
        version,
        partitions,
        handlers,
        reset,
        retire,
        context,
        dispatches,
    }
}

/// The type to implement the trait for, if the code can name it, and whether
/// the block's methods are handlers to read.
fn self_type(errors: &mut Errors, kind: &BlockKind, item: &ItemImpl) -> (Option<Type>, bool) {
    let (attr, noun) = (kind.attr, kind.noun);
    let path = match &*item.self_ty {
        Type::Path(path) if path.qself.is_none() => Some((*item.self_ty).clone()),
        _ => None,
    };
    if let Some((trait_path, _)) = &item.trait_ {
        errors.at(
            trait_path,
            format!(
                "{attr} goes on an inherent `impl {}` block holding the event handlers, not on a trait impl",
                render(&item.self_ty)
            ),
        );
        // The trait is still implemented (with no handlers), so the code
        // using the type does not fail too.
        return (path.filter(|_| item.generics.params.is_empty()), false);
    }
    if !item.generics.params.is_empty() {
        errors.at(
            &item.generics,
            format!(
                "{attr} does not support generic impl blocks: a {noun} is registered by its concrete type"
            ),
        );
        return (None, false);
    }
    match path {
        Some(path) => (Some(path), true),
        None => {
            errors.at(
                &item.self_ty,
                format!("{attr} goes on the impl block of a struct or enum"),
            );
            (None, false)
        }
    }
}

/// Removes a marker attribute (`#[reset]`, `#[start]`) from `function`,
/// returning the first.
fn take_marker(errors: &mut Errors, function: &mut ImplItemFn, marker: &str) -> Option<Attribute> {
    let mut found: Option<Attribute> = None;
    function.attrs.retain(|attr| {
        if !attr.path().is_ident(marker) {
            return true;
        }
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            errors.at(attr, format!("#[{marker}] takes no arguments"));
        } else if found.is_some() {
            errors.at(attr, format!("#[{marker}] is given twice on this method"));
        }
        found.get_or_insert_with(|| attr.clone());
        false
    });
    found
}

/// The `impl` of an `impl Trait` in `tokens`, if any: an anonymous type parameter.
fn impl_trait(tokens: TokenStream) -> Option<Ident> {
    tokens.into_iter().find_map(|tree| match tree {
        TokenTree::Ident(ident) if ident == "impl" => Some(ident),
        TokenTree::Group(group) => impl_trait(group.stream()),
        _ => None,
    })
}

fn parse_handler(
    errors: &mut Errors,
    kind: &BlockKind,
    function: &ImplItemFn,
    first_context: &mut FirstContext,
) -> Option<Handler> {
    let (attr, what) = (kind.attr, kind.handler);
    let sig = &function.sig;
    let receiver_message = kind.receiver;
    let receiver = signature::receiver(sig);
    let receiver_ok = matches!(receiver, Some((_, Receiver::Mutable)));
    let params: Vec<&FnArg> = sig
        .inputs
        .iter()
        .skip(usize::from(receiver.is_some()))
        .collect();
    let Some((FnArg::Typed(event_arg), extras_params)) = params.split_first() else {
        if receiver_ok {
            let hint = kind.no_event_hint;
            errors.at(
                &sig.ident,
                format!("{what} takes the event it handles: {}{hint}", kind.example),
            );
        } else {
            errors.at(
                &sig.ident,
                format!(
                    "`{}` is not an event handler: every method of a {attr} block handles one event, {}; move other methods to another `impl` block",
                    sig.ident,
                    kind.example
                ),
            );
        }
        return None;
    };
    let mut callable = signature::check_receiver(errors, sig, Receiver::Mutable, receiver_message);
    callable &= signature::check_plain(
        errors,
        sig,
        &Plain {
            what,
            not_async: None,
            generics: Generics::LifetimesOnly {
                why: "it handles one concrete event type",
            },
        },
    );
    if signature::has_type_parameters(sig) {
        return None;
    }
    if let Some(impl_token) = impl_trait(event_arg.ty.to_token_stream()) {
        errors.at(
            quote!(#impl_token #event_arg),
            format!("{what} cannot be generic: it handles one concrete event type"),
        );
        return None;
    }
    let event = match &*event_arg.ty {
        Type::Reference(r) if r.mutability.is_none() => (*r.elem).clone(),
        other => {
            let event = match other {
                Type::Reference(r) => (*r.elem).clone(),
                other => other.clone(),
            };
            errors.at(
                other,
                format!(
                    "{what} takes the event by shared reference: `e: &{}`",
                    render(&event)
                ),
            );
            callable = false;
            event
        }
    };

    let extras_form = kind.extras;
    let mut extras: Vec<HandlerArg> = Vec::new();
    for param in extras_params {
        let FnArg::Typed(arg) = param else { continue };
        let extra = match &*arg.ty {
            Type::Reference(r) if r.mutability.is_some() => HandlerArg::Context((*arg.ty).clone()),
            Type::Reference(_) => HandlerArg::Meta((*arg.ty).clone()),
            other => {
                errors.at(
                    other,
                    format!("after the event, {what} takes {extras_form}, each optional"),
                );
                callable = false;
                continue;
            }
        };
        let twice = extras
            .iter()
            .any(|e| std::mem::discriminant(e) == std::mem::discriminant(&extra));
        if twice {
            let which = match &extra {
                HandlerArg::Meta(_) => "`meta: &RecordedEvent`",
                HandlerArg::Context(_) => kind.context_argument,
            };
            errors.at(arg, format!("{what} takes {which} only once"));
            callable = false;
            continue;
        }
        if let (Context::Chosen, HandlerArg::Context(ty)) = (kind.context, &extra) {
            callable &= same_context(errors, first_context, ty, &sig.ident);
        }
        extras.push(extra);
    }
    let output = match output(errors, sig, what) {
        Some(output) => output,
        None => {
            callable = false;
            Output::Unit
        }
    };
    Some(Handler {
        method: sig.ident.clone(),
        event,
        asyncness: sig.asyncness.is_some(),
        output,
        args: extras,
        starts: false,
        callable,
    })
}

/// The words of one hook method in messages.
struct HookWords {
    what: &'static str,
    receiver: &'static str,
    why_one: &'static str,
}

const RESET_HOOK: HookWords = HookWords {
    what: "the #[reset] method",
    receiver: "the #[reset] method takes `&mut self`: it clears the read model",
    why_one: "it clears one read model",
};

const RETIRE_HOOK: HookWords = HookWords {
    what: "the #[retire] method",
    receiver: "the #[retire] method takes `&mut self`: it drops this version's read model",
    why_one: "it drops one read model",
};

fn parse_hook(
    errors: &mut Errors,
    function: &ImplItemFn,
    first_context: &mut FirstContext,
    words: &HookWords,
) -> Hook {
    const FORM: &str = "`&mut self` and, optionally, the context `ctx: &mut C`";
    let what = words.what;
    let sig = &function.sig;
    let receiver = signature::receiver(sig);
    let mut callable = signature::check_receiver(errors, sig, Receiver::Mutable, words.receiver);
    callable &= signature::check_plain(
        errors,
        sig,
        &Plain {
            what,
            not_async: None,
            generics: Generics::LifetimesOnly { why: words.why_one },
        },
    );
    let params: Vec<&FnArg> = sig
        .inputs
        .iter()
        .skip(usize::from(receiver.is_some()))
        .collect();
    let mut context = None;
    if let Some(FnArg::Typed(arg)) = params.first() {
        match &*arg.ty {
            Type::Reference(r) if r.mutability.is_some() => {
                callable &= same_context(errors, first_context, &arg.ty, &sig.ident);
                context = Some((*arg.ty).clone());
            }
            other => {
                errors.at(
                    other,
                    format!(
                        "{what} takes nothing but {FORM}: it cannot take `{}`",
                        render(other)
                    ),
                );
                callable = false;
            }
        }
    }
    if let (Some(second), Some(last)) = (params.get(1), params.last()) {
        errors.at(
            quote!(#second #last),
            format!(
                "{what} takes at most one argument besides `&mut self`, the context `ctx: &mut C`"
            ),
        );
        callable = false;
    }
    let output = match output(errors, sig, what) {
        Some(output) => output,
        None => {
            callable = false;
            Output::Unit
        }
    };
    Hook {
        method: sig.ident.clone(),
        asyncness: sig.asyncness.is_some(),
        output,
        context,
        callable,
    }
}

/// Checks that a projection's context `ty` (`&mut C`) is owned and agrees
/// with the first one.
fn same_context(errors: &mut Errors, first: &mut FirstContext, ty: &Type, method: &Ident) -> bool {
    let owned = referent(ty);
    if let Some(lifetime) = borrowed(owned.to_token_stream()) {
        errors.at(
            lifetime,
            format!(
                "a projection's context cannot borrow: it is the projection's `type Context`, which the backend lends to each handler as `&mut {}`; use an owned type, such as `ctx: &mut PgConnection`",
                render(&owned)
            ),
        );
        return false;
    }
    match first {
        None => {
            *first = Some((ty.clone(), method.clone()));
            true
        }
        Some((first_ty, _)) if render(&referent(first_ty)) == render(&referent(ty)) => true,
        Some((first_ty, first_method)) => {
            errors.at(
                ty,
                format!(
                    "every method of a projection takes the same context: `{}` here, but `{}` in `{first_method}`",
                    render(ty),
                    render(first_ty)
                ),
            );
            false
        }
    }
}

/// The first lifetime other than `'static` in `tokens`.
fn borrowed(tokens: TokenStream) -> Option<TokenStream> {
    let mut trees = tokens.into_iter().peekable();
    while let Some(tree) = trees.next() {
        match tree {
            TokenTree::Punct(quote) if quote.as_char() == '\'' => {
                if let Some(TokenTree::Ident(name)) = trees.peek() {
                    if name != "static" {
                        return Some(quote! {#quote #name});
                    }
                }
            }
            TokenTree::Group(group) => {
                if let Some(found) = borrowed(group.stream()) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

/// `C` of `&mut C`, without parentheses: `&mut (dyn Store + Send)` needs
/// them, `type Context = dyn Store + Send` does not.
fn referent(ty: &Type) -> Type {
    let mut ty = match ty {
        Type::Reference(r) => &*r.elem,
        other => other,
    };
    while let Type::Paren(inner) = ty {
        ty = &inner.elem;
    }
    ty.clone()
}

/// What the method returns; `None` (reported) when it cannot be a handler's.
fn output(errors: &mut Errors, sig: &Signature, what: &str) -> Option<Output> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return Some(Output::Unit);
    };
    match &**ty {
        Type::Tuple(t) if t.elems.is_empty() => Some(Output::Unit),
        Type::ImplTrait(_) => {
            errors.at(
                ty,
                format!(
                    "{what} returns nothing or `Result<(), E>`, not `impl Trait`: write an `async fn` for an asynchronous one"
                ),
            );
            None
        }
        other => Some(match signature::returns(other).error() {
            Some(error) => Output::Result {
                ty: other.clone(),
                error: Box::new(error.clone()),
            },
            None => Output::Other(other.clone()),
        }),
    }
}

fn output_replacing_self(output: Output, self_ty: &Type) -> Output {
    match output {
        Output::Unit => Output::Unit,
        Output::Result { ty, error } => Output::Result {
            ty: replace_self(&ty, self_ty),
            error: Box::new(replace_self(&error, self_ty)),
        },
        Output::Other(ty) => Output::Other(replace_self(&ty, self_ty)),
    }
}

/// `ty` with `Self` spelt out, for code generated outside the impl block.
pub(crate) fn replace_self(ty: &Type, self_ty: &Type) -> Type {
    fn replace(tokens: TokenStream, self_ty: &Type) -> TokenStream {
        tokens
            .into_iter()
            .flat_map(|tree| match tree {
                TokenTree::Ident(ident) if ident == "Self" => {
                    crate::diagnostics::respan(self_ty.to_token_stream(), ident.span())
                }
                TokenTree::Group(group) => {
                    let mut new = proc_macro2::Group::new(
                        group.delimiter(),
                        replace(group.stream(), self_ty),
                    );
                    new.set_span(group.span());
                    TokenTree::Group(new).into()
                }
                other => other.into(),
            })
            .collect()
    }
    let tokens = replace(ty.to_token_stream(), self_ty);
    syn::parse2(tokens).unwrap_or_else(|_| ty.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_self_in_types() {
        let self_ty: Type = syn::parse_quote!(Log<u8>);
        let ty: Type = syn::parse_quote!(Result<(), <Self as Failing>::Failure>);
        let expected = quote!(Result<(), <Log<u8> as Failing>::Failure>);
        assert_eq!(
            replace_self(&ty, &self_ty).to_token_stream().to_string(),
            expected.to_string()
        );
    }

    #[test]
    fn finds_borrowed_contexts() {
        let borrowed = |src: &str| borrowed(src.parse().unwrap()).map(|t| t.to_string());
        assert_eq!(borrowed("Tx<'_>").as_deref(), Some("'_"));
        assert_eq!(borrowed("Pool<Tx<'a>>").as_deref(), Some("'a"));
        assert_eq!(borrowed("Tx<'static>"), None);
        assert_eq!(borrowed("PgConnection"), None);
    }
}
