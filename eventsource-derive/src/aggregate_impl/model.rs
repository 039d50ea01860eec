//! The typed model of an `#[aggregate_impl]` block, parsed and checked.
//!
//! A handler with a mistake in its signature is reported and kept, marked
//! not callable: its command still gets a `Handles` impl and its event a
//! variant, so the one mistake does not cascade into errors wherever the
//! command or the event is used.

use std::collections::HashMap;

use quote::format_ident;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, Path, ReturnType, Signature, Type,
    Visibility,
};

use crate::attr::{self, Args};
use crate::diagnostics::Errors;
use crate::diagnostics::spans::{render, runtime_path};

pub(crate) const KEYS: &[&str] = &["event_enum", "vis", "crate"];
const COMMAND_KEYS: &[&str] = &["create", "create_if_missing"];

/// Which policy a `#[command_handler]` declares.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    Existing,
    Create,
    CreateIfMissing,
}

pub(crate) struct CommandHandler {
    pub(crate) method: Ident,
    /// The command type, without a reference.
    pub(crate) command: Type,
    pub(crate) by_ref: bool,
    /// The declared type of the metadata argument, if any.
    pub(crate) metadata: Option<Type>,
    /// The declared return type.
    pub(crate) output: Option<Type>,
    /// Whether `output` is a `Result` (by its name).
    pub(crate) fallible: bool,
    /// The type whose events are checked: the `Ok` type of a `Result` when
    /// written out, else the whole return type. Errors are spanned on it.
    pub(crate) events_ty: Option<Type>,
    pub(crate) policy: Policy,
    /// False when the signature has a mistake (already reported): the
    /// generated impl then does not call the method.
    pub(crate) callable: bool,
}

pub(crate) struct EventHandler {
    pub(crate) method: Ident,
    /// The event type, without the reference.
    pub(crate) event: Type,
    pub(crate) variant: Ident,
    /// False when the signature has a mistake (already reported).
    pub(crate) callable: bool,
}

pub(crate) struct Model {
    pub(crate) item: ItemImpl,
    /// The aggregate, when the block is on a plain type the code can name.
    pub(crate) self_ident: Option<Ident>,
    pub(crate) krate: Path,
    pub(crate) enum_ident: Ident,
    pub(crate) enum_vis: Visibility,
    pub(crate) commands: Vec<CommandHandler>,
    pub(crate) events: Vec<EventHandler>,
    /// False when an event sourcing handler could not be read (reported):
    /// the event enum may then lack an event, so what command handlers
    /// return is not checked against it.
    pub(crate) events_complete: bool,
}

enum Role {
    Command(Attribute),
    Event(Attribute),
}

pub(crate) fn parse(errors: &mut Errors, args: &Args, mut item: ItemImpl) -> Model {
    let krate = runtime_path(errors, args);
    let (self_ident, collect) = self_ident(errors, &item);
    let enum_ident = match args.path(errors, "event_enum", "AccountEvent") {
        Some(path) => match path.get_ident() {
            Some(ident) => ident.clone(),
            None => {
                errors.at(
                    &path,
                    "`event_enum` in #[aggregate_impl] must be a single identifier: the enum is declared next to the impl block",
                );
                default_enum(self_ident.as_ref())
            }
        },
        None => default_enum(self_ident.as_ref()),
    };
    let enum_vis = args
        .visibility(errors, "vis")
        .unwrap_or_else(|| Visibility::Public(Default::default()));

    let mut commands = Vec::new();
    let mut events = Vec::new();
    let mut event_attrs = 0;
    let mut events_complete = collect;
    for impl_item in &mut item.items {
        let ImplItem::Fn(function) = impl_item else {
            continue;
        };
        // Always mark the handler attributes as read, so a block that cannot
        // be expanded does not also report each of them as misplaced.
        let role = take_role(errors, function);
        if !collect {
            continue;
        }
        let is_handler = role.is_some();
        match role {
            Some(Role::Command(attr)) => {
                if let Some(handler) = command_handler(errors, &attr, function) {
                    commands.push(handler);
                }
            }
            Some(Role::Event(attr)) => {
                event_attrs += 1;
                match event_handler(errors, &attr, function) {
                    Some(handler) => events.push(handler),
                    None => events_complete = false,
                }
            }
            None => {}
        }
        // A variadic handler was reported above; the `...` is removed so the
        // compiler does not report it a second time.
        if is_handler {
            function.sig.variadic = None;
        }
    }

    if !check_duplicates(errors, &mut commands, &mut events) {
        events_complete = false;
    }
    if collect && event_attrs == 0 {
        errors.at(
            &item.self_ty,
            "this #[aggregate_impl] block has no #[event_sourcing_handler]: an aggregate must apply at least one event",
        );
        events_complete = false;
    }

    Model {
        item,
        self_ident,
        krate,
        enum_ident,
        enum_vis,
        commands,
        events,
        events_complete,
    }
}

fn default_enum(self_ident: Option<&Ident>) -> Ident {
    match self_ident {
        Some(ident) => format_ident!("{}Event", ident),
        None => format_ident!("AggregateEvent"),
    }
}

/// The aggregate's name, if the code can name it, and whether the block's
/// methods are handlers to collect.
fn self_ident(errors: &mut Errors, item: &ItemImpl) -> (Option<Ident>, bool) {
    let plain = match &*item.self_ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .filter(|s| s.arguments.is_empty())
            .map(|s| s.ident.clone()),
        _ => None,
    };
    if let Some((path, _)) = &item.trait_ {
        errors.at(
            path,
            format!(
                "#[aggregate_impl] goes on an inherent `impl {}` block, not on a trait impl",
                render(&item.self_ty)
            ),
        );
        // The aggregate is still declared (with no events), so the commands
        // that target it do not fail too.
        return (plain.filter(|_| item.generics.params.is_empty()), false);
    }
    if !item.generics.params.is_empty() {
        errors.at(
            &item.generics,
            "#[aggregate_impl] does not support generic impl blocks: aggregates are registered by concrete type",
        );
        return (None, false);
    }
    match (&*item.self_ty, plain) {
        (_, Some(ident)) => (Some(ident), true),
        (Type::Path(path), None) if path.qself.is_none() => {
            errors.at(
                &item.self_ty,
                "#[aggregate_impl] needs a plain aggregate type, without generic arguments",
            );
            (None, false)
        }
        (other, None) => {
            errors.at(
                other,
                "#[aggregate_impl] goes on the impl block of an aggregate struct or enum",
            );
            (None, false)
        }
    }
}

/// Removes this macro's handler attributes from `function`, returning its role.
fn take_role(errors: &mut Errors, function: &mut ImplItemFn) -> Option<Role> {
    let mut role = None;
    let mut kept = Vec::with_capacity(function.attrs.len());
    for attr in std::mem::take(&mut function.attrs) {
        let name = attr
            .path()
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let this = match name.as_str() {
            "command_handler" => Role::Command(attr.clone()),
            "event_sourcing_handler" => Role::Event(attr.clone()),
            _ => {
                kept.push(attr);
                continue;
            }
        };
        // Kept, marked as handled, so the attribute is still resolved (the
        // user's import of it is used) and expands to the method unchanged.
        let path = attr.path();
        let marker = crate::HANDLED;
        kept.push(syn::parse_quote!(#[#path(#marker)]));
        match (&role, &this) {
            (None, _) => role = Some(this),
            (Some(_), Role::Command(a) | Role::Event(a)) => errors.at(
                a,
                "a method is either a #[command_handler] or an #[event_sourcing_handler], once",
            ),
        }
    }
    function.attrs = kept;
    role
}

fn command_handler(
    errors: &mut Errors,
    attr: &Attribute,
    function: &ImplItemFn,
) -> Option<CommandHandler> {
    const ATTR: &str = "#[command_handler]";
    let args = match &attr.meta {
        syn::Meta::List(list) => attr::parse(errors, ATTR, list.tokens.clone(), COMMAND_KEYS),
        syn::Meta::Path(_) => attr::parse(errors, ATTR, Default::default(), COMMAND_KEYS),
        other @ syn::Meta::NameValue(_) => {
            errors.at(
                other,
                "expected #[command_handler], #[command_handler(create)] or #[command_handler(create_if_missing)]",
            );
            attr::parse(errors, ATTR, Default::default(), COMMAND_KEYS)
        }
    };
    let create = args.flag(errors, "create");
    let if_missing = args.flag(errors, "create_if_missing");
    let policy = match (create, if_missing) {
        (Some(_), Some(span)) => {
            errors.at_span(
                span,
                "choose one of `create` and `create_if_missing` in #[command_handler]",
            );
            Policy::Create
        }
        (Some(_), None) => Policy::Create,
        (None, Some(_)) => Policy::CreateIfMissing,
        (None, None) => Policy::Existing,
    };

    let sig = &function.sig;
    let mut callable = plain_signature(
        errors,
        sig,
        "a command handler",
        "it decides from the aggregate's state alone",
    );
    callable &= check_receiver(
        errors,
        sig,
        Receiver::Shared,
        "a command handler takes `&self`: it decides which events happen, and only the event sourcing handlers change state",
    );
    let mut params = sig
        .inputs
        .iter()
        .skip_while(|arg| matches!(arg, FnArg::Receiver(_)));
    let Some(FnArg::Typed(command_arg)) = params.next() else {
        errors.at(
            &sig.ident,
            "a command handler takes the command as its argument: `fn handle(&self, cmd: &MyCommand)`",
        );
        return None;
    };
    let (command, by_ref) = match &*command_arg.ty {
        Type::Reference(r) if r.mutability.is_some() => {
            errors.at(
                &command_arg.ty,
                "a command handler takes the command by value or by shared reference, not `&mut`",
            );
            callable = false;
            ((*r.elem).clone(), true)
        }
        Type::Reference(r) => ((*r.elem).clone(), true),
        other => (other.clone(), false),
    };
    let metadata = match params.next() {
        Some(FnArg::Typed(arg)) => {
            if !matches!(&*arg.ty, Type::Reference(r) if r.mutability.is_none()) {
                errors.at(
                    &arg.ty,
                    "a command handler takes the metadata by shared reference: `meta: &Metadata`",
                );
                callable = false;
            }
            Some((*arg.ty).clone())
        }
        _ => None,
    };
    let extra: Vec<&FnArg> = params.collect();
    if let (Some(first), Some(last)) = (extra.first(), extra.last()) {
        errors.at(
            quote::quote!(#first #last),
            "a command handler takes the command and, optionally, `meta: &Metadata`; nothing more",
        );
        callable = false;
    }
    let output = match &sig.output {
        ReturnType::Type(_, ty) => Some((**ty).clone()),
        ReturnType::Default => {
            errors.at(
                &sig.ident,
                "a command handler returns the events it decides on: an event, an `Option`, `Vec`, array or tuple of events, or a `Result` of those",
            );
            callable = false;
            None
        }
    };
    let (fallible, events_ty) = match &output {
        Some(output) => {
            let (fallible, events) = result_parts(output);
            (fallible, Some(events))
        }
        None => (false, None),
    };
    Some(CommandHandler {
        method: sig.ident.clone(),
        command,
        by_ref,
        metadata,
        output,
        fallible,
        events_ty,
        policy,
        callable,
    })
}

fn event_handler(
    errors: &mut Errors,
    attr: &Attribute,
    function: &ImplItemFn,
) -> Option<EventHandler> {
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        errors.at(
            attr,
            "#[event_sourcing_handler] takes no arguments: the event is the method's argument type",
        );
    }
    let sig = &function.sig;
    let mut callable = plain_signature(
        errors,
        sig,
        "an event sourcing handler",
        "it applies an event that already happened to the state in memory",
    );
    callable &= check_receiver(
        errors,
        sig,
        Receiver::Mutable,
        "an event sourcing handler takes `&mut self`: it applies the event to the state",
    );
    let params: Vec<&FnArg> = sig
        .inputs
        .iter()
        .skip_while(|arg| matches!(arg, FnArg::Receiver(_)))
        .collect();
    let arg = match params.as_slice() {
        [FnArg::Typed(arg), rest @ ..] => {
            if let (Some(first), Some(last)) = (rest.first(), rest.last()) {
                errors.at(
                    quote::quote!(#first #last),
                    "an event sourcing handler takes exactly one argument, the event",
                );
                callable = false;
            }
            arg
        }
        _ => {
            errors.at(
                &sig.ident,
                "an event sourcing handler takes the event by reference: `fn on_event(&mut self, e: &MyEvent)`",
            );
            return None;
        }
    };
    if let ReturnType::Type(_, ty) = &sig.output {
        let unit = matches!(&**ty, Type::Tuple(t) if t.elems.is_empty());
        if !unit {
            errors.at(
                ty,
                "an event sourcing handler returns nothing: applying an event that already happened cannot fail",
            );
            callable = false;
        }
    }
    let event = match &*arg.ty {
        Type::Reference(r) if r.mutability.is_none() => (*r.elem).clone(),
        Type::Reference(r) => {
            errors.at(
                &arg.ty,
                format!(
                    "an event sourcing handler takes the event by shared reference: `&{}`",
                    render(&r.elem)
                ),
            );
            callable = false;
            (*r.elem).clone()
        }
        other => {
            errors.at(
                other,
                format!(
                    "an event sourcing handler takes the event by shared reference: `&{}`",
                    render(other)
                ),
            );
            callable = false;
            other.clone()
        }
    };
    let variant = match &event {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.clone())
        }
        _ => None,
    };
    let Some(variant) = variant else {
        errors.at(
            &event,
            "the event of an event sourcing handler must be a named type deriving `Event`",
        );
        return None;
    };
    Some(EventHandler {
        method: sig.ident.clone(),
        event,
        variant,
        callable,
    })
}

/// Rejects `async`, `unsafe`, generic and variadic handlers.
fn plain_signature(errors: &mut Errors, sig: &Signature, what: &str, why: &str) -> bool {
    let mut ok = true;
    if let Some(token) = &sig.asyncness {
        errors.at(token, format!("{what} cannot be async: {why}"));
        ok = false;
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        errors.at(token, format!("{what} cannot be unsafe"));
        ok = false;
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(&sig.generics, format!("{what} cannot be generic"));
        ok = false;
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, format!("{what} cannot be variadic"));
        ok = false;
    }
    ok
}

#[derive(PartialEq, Eq)]
enum Receiver {
    Shared,
    Mutable,
}

fn check_receiver(errors: &mut Errors, sig: &Signature, wanted: Receiver, message: &str) -> bool {
    let first = sig.inputs.first();
    let found = match first {
        Some(FnArg::Receiver(receiver)) => match &receiver.kind {
            syn::ReceiverKind::Reference(_, _, Some(_)) => Some(Receiver::Mutable),
            syn::ReceiverKind::Reference(_, _, None) => Some(Receiver::Shared),
            syn::ReceiverKind::Typed(_, ty) => match &**ty {
                Type::Reference(r) if r.mutability.is_some() => Some(Receiver::Mutable),
                Type::Reference(_) => Some(Receiver::Shared),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    if found == Some(wanted) {
        return true;
    }
    match first {
        Some(receiver @ FnArg::Receiver(_)) => errors.at(receiver, message),
        _ => errors.at_span(sig.ident.span(), message),
    }
    false
}

/// Whether `ty` names a `Result` (any path ending in `Result`), and the type
/// holding its events.
fn result_parts(ty: &Type) -> (bool, Type) {
    let Type::Path(path) = ty else {
        return (false, ty.clone());
    };
    let Some(last) = path.path.segments.last() else {
        return (false, ty.clone());
    };
    if !last.ident.to_string().ends_with("Result") {
        return (false, ty.clone());
    }
    let ok = match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }),
        _ => None,
    };
    (true, ok.unwrap_or_else(|| ty.clone()))
}

/// Reports handlers that repeat a command, an event or a variant name, and
/// drops them so the rest still expands. False if an event type was dropped
/// (the enum then lacks it).
fn check_duplicates(
    errors: &mut Errors,
    commands: &mut Vec<CommandHandler>,
    events: &mut Vec<EventHandler>,
) -> bool {
    let mut seen: HashMap<String, Ident> = HashMap::new();
    commands.retain(|handler| {
        let ty = render(&handler.command);
        match seen.get(&ty) {
            Some(first) => {
                errors.at(
                    &handler.command,
                    format!(
                        "two command handlers for `{ty}`: `{first}` and `{}`; a command has one handler",
                        handler.method
                    ),
                );
                false
            }
            None => {
                seen.insert(ty, handler.method.clone());
                true
            }
        }
    });
    let mut complete = true;
    let mut seen: HashMap<String, Ident> = HashMap::new();
    let mut variants: HashMap<String, String> = HashMap::new();
    events.retain(|handler| {
        let ty = render(&handler.event);
        if let Some(first) = seen.get(&ty) {
            errors.at(
                &handler.event,
                format!(
                    "two event sourcing handlers for `{ty}`: `{first}` and `{}`; an event is applied by one handler",
                    handler.method
                ),
            );
            return false;
        }
        if let Some(other) = variants.get(&handler.variant.to_string()) {
            errors.at(
                &handler.event,
                format!(
                    "two events named `{variant}` (`{other}` and `{ty}`): the generated enum has one variant per event type name; import one under another name (`use {ty} as Other{variant};`)",
                    variant = handler.variant
                ),
            );
            complete = false;
            return false;
        }
        seen.insert(ty.clone(), handler.method.clone());
        variants.insert(handler.variant.to_string(), ty);
        true
    });
    complete
}
