//! The typed model of an `#[aggregate_impl]` block, parsed and checked.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::{ToTokens, format_ident};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, Path, ReturnType, Signature, Type,
    Visibility,
};

use crate::args::{self, Args};
use crate::common::runtime_path;
use crate::errors::Errors;

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
    pub(crate) with_metadata: bool,
    /// The declared return type.
    pub(crate) output: Type,
    /// Whether `output` is a `Result` (by its name).
    pub(crate) fallible: bool,
    /// The type whose events are checked: the `Ok` type of a `Result` when
    /// written out, else the whole return type. Errors are spanned on it.
    pub(crate) events_ty: Type,
    pub(crate) policy: Policy,
}

pub(crate) struct EventHandler {
    pub(crate) method: Ident,
    /// The event type, without the reference.
    pub(crate) event: Type,
    pub(crate) variant: Ident,
}

pub(crate) struct Model {
    pub(crate) item: ItemImpl,
    pub(crate) self_ident: Option<Ident>,
    pub(crate) krate: Path,
    pub(crate) enum_ident: Ident,
    pub(crate) enum_vis: Visibility,
    pub(crate) commands: Vec<CommandHandler>,
    pub(crate) events: Vec<EventHandler>,
}

enum Role {
    Command(Attribute),
    Event(Attribute),
}

pub(crate) fn parse(errors: &mut Errors, args: &Args, mut item: ItemImpl) -> Model {
    let krate = runtime_path(errors, args);
    let self_ident = self_ident(errors, &item);
    let enum_ident = match args.path(errors, "event_enum") {
        Some(path) => match path.get_ident() {
            Some(ident) => ident.clone(),
            None => {
                errors.at(&path, "`event_enum` must be a single identifier");
                default_enum(&self_ident)
            }
        },
        None => default_enum(&self_ident),
    };
    let enum_vis = match args.string(errors, "vis") {
        Some(lit) => lit.parse::<Visibility>().unwrap_or_else(|err| {
            errors.at(
                &lit,
                format!("`vis` must be a visibility such as \"pub(crate)\": {err}"),
            );
            Visibility::Public(Default::default())
        }),
        None => Visibility::Public(Default::default()),
    };

    let mut commands = Vec::new();
    let mut events = Vec::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(function) = impl_item else {
            continue;
        };
        match take_role(errors, function) {
            Some(Role::Command(attr)) => {
                if let Some(handler) = command_handler(errors, &attr, function) {
                    commands.push(handler);
                }
            }
            Some(Role::Event(attr)) => {
                if let Some(handler) = event_handler(errors, &attr, function) {
                    events.push(handler);
                }
            }
            None => {}
        }
    }

    check_duplicates(errors, &mut commands, &mut events);
    if events.is_empty() && self_ident.is_some() {
        errors.at(
            &item.self_ty,
            "this #[aggregate_impl] block has no #[event_sourcing_handler]: an aggregate must apply at least one event",
        );
    }

    Model {
        item,
        self_ident,
        krate,
        enum_ident,
        enum_vis,
        commands,
        events,
    }
}

fn default_enum(self_ident: &Option<Ident>) -> Ident {
    match self_ident {
        Some(ident) => format_ident!("{}Event", ident),
        None => format_ident!("AggregateEvent"),
    }
}

fn self_ident(errors: &mut Errors, item: &ItemImpl) -> Option<Ident> {
    if let Some((path, _)) = &item.trait_ {
        errors.at(
            path,
            "#[aggregate_impl] goes on an inherent `impl Aggregate { ... }` block, not on a trait impl",
        );
        return None;
    }
    if !item.generics.params.is_empty() {
        errors.at(
            &item.generics,
            "#[aggregate_impl] does not support generic impl blocks: aggregates are registered by concrete type",
        );
        return None;
    }
    match &*item.self_ty {
        Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
            Some(segment) if segment.arguments.is_empty() => Some(segment.ident.clone()),
            _ => {
                errors.at(
                    &item.self_ty,
                    "#[aggregate_impl] needs a plain aggregate type, without generic arguments",
                );
                None
            }
        },
        other => {
            errors.at(
                other,
                "#[aggregate_impl] goes on the impl block of an aggregate struct or enum",
            );
            None
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
            "command_handler" => Role::Command(attr),
            "event_sourcing_handler" => Role::Event(attr),
            _ => {
                kept.push(attr);
                continue;
            }
        };
        match (&role, &this) {
            (None, _) => role = Some(this),
            (Some(_), Role::Command(a) | Role::Event(a)) => errors.at(
                a,
                "a method is either one #[command_handler] or one #[event_sourcing_handler]",
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
    let args = match &attr.meta {
        syn::Meta::List(list) => args::parse(
            errors,
            "#[command_handler]",
            list.tokens.clone(),
            COMMAND_KEYS,
        ),
        syn::Meta::Path(_) => args::parse(
            errors,
            "#[command_handler]",
            Default::default(),
            COMMAND_KEYS,
        ),
        other @ syn::Meta::NameValue(_) => {
            errors.at(
                other,
                "expected #[command_handler] or #[command_handler(create)]",
            );
            return None;
        }
    };
    let create = args.flag(errors, "create");
    let if_missing = args.flag(errors, "create_if_missing");
    let policy = match (create, if_missing) {
        (Some(_), Some(span)) => {
            errors.at_span(span, "choose one of `create` and `create_if_missing`");
            Policy::Create
        }
        (Some(_), None) => Policy::Create,
        (None, Some(_)) => Policy::CreateIfMissing,
        (None, None) => Policy::Existing,
    };

    let sig = &function.sig;
    let ok = plain_signature(errors, sig, "a command handler");
    let receiver_ok = check_receiver(
        errors,
        sig,
        Receiver::Shared,
        "a command handler takes `&self`: it decides which events happen, and only the event sourcing handlers change state",
    );
    let mut params = sig.inputs.iter().skip(1);
    let Some(command_arg) = params.next() else {
        errors.at(
            &sig.ident,
            "a command handler takes the command as its argument: `fn handle(&self, cmd: MyCommand)`",
        );
        return None;
    };
    let (command, by_ref) = match command_arg {
        FnArg::Typed(pat) => match &*pat.ty {
            Type::Reference(r) if r.mutability.is_some() => {
                errors.at(
                    &pat.ty,
                    "take the command by value or by shared reference, not `&mut`",
                );
                return None;
            }
            Type::Reference(r) => ((*r.elem).clone(), true),
            other => (other.clone(), false),
        },
        FnArg::Receiver(_) => return None,
    };
    let with_metadata = params.next().is_some();
    if let Some(extra) = params.next() {
        errors.at(
            extra,
            "a command handler takes the command and, optionally, `&Metadata`; nothing more",
        );
    }
    let output = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => {
            errors.at(
                &sig.ident,
                "a command handler returns the events it decides on: an event, an `Option` or `Vec` of events, or a `Result` of those",
            );
            return None;
        }
    };
    let (fallible, events_ty) = result_parts(&output);
    (ok && receiver_ok).then_some(CommandHandler {
        method: sig.ident.clone(),
        command,
        by_ref,
        with_metadata,
        output,
        fallible,
        events_ty,
        policy,
    })
}

fn event_handler(
    errors: &mut Errors,
    attr: &Attribute,
    function: &ImplItemFn,
) -> Option<EventHandler> {
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        errors.at(attr, "#[event_sourcing_handler] takes no arguments");
    }
    let sig = &function.sig;
    let ok = plain_signature(errors, sig, "an event sourcing handler");
    let receiver_ok = check_receiver(
        errors,
        sig,
        Receiver::Mutable,
        "an event sourcing handler takes `&mut self`: it applies the event to the state",
    );
    let params: Vec<&FnArg> = sig.inputs.iter().skip(1).collect();
    let arg = match params.as_slice() {
        [FnArg::Typed(arg)] => arg,
        [] => {
            errors.at(
                &sig.ident,
                "an event sourcing handler takes the event by reference: `fn on_event(&mut self, e: &MyEvent)`",
            );
            return None;
        }
        [_, extra, ..] => {
            errors.at(
                extra,
                "an event sourcing handler takes exactly one argument, the event",
            );
            return None;
        }
        [FnArg::Receiver(_)] => return None,
    };
    if let ReturnType::Type(_, ty) = &sig.output {
        let unit = matches!(&**ty, Type::Tuple(t) if t.elems.is_empty());
        if !unit {
            errors.at(
                ty,
                "an event sourcing handler returns nothing: applying an event that already happened cannot fail",
            );
        }
    }
    let event = match &*arg.ty {
        Type::Reference(r) if r.mutability.is_none() => (*r.elem).clone(),
        other => {
            errors.at(
                other,
                format!(
                    "an event sourcing handler takes the event by shared reference: `&{}`",
                    other
                        .to_token_stream()
                        .to_string()
                        .trim_start_matches("& mut ")
                ),
            );
            return None;
        }
    };
    let variant = match &event {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.clone())
        }
        _ => None,
    };
    let Some(variant) = variant else {
        errors.at(&event, "the event must be a named type deriving `Event`");
        return None;
    };
    (ok && receiver_ok).then_some(EventHandler {
        method: sig.ident.clone(),
        event,
        variant,
    })
}

/// Rejects `async`, `unsafe`, generic and variadic handlers.
fn plain_signature(errors: &mut Errors, sig: &Signature, what: &str) -> bool {
    let mut ok = true;
    if let Some(token) = &sig.asyncness {
        errors.at(
            token,
            format!("{what} cannot be async: it decides from the aggregate's state alone"),
        );
        ok = false;
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        errors.at(token, format!("{what} cannot be unsafe"));
        ok = false;
    }
    if !sig.generics.params.is_empty() {
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
    let found = match sig.inputs.first() {
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
    let span: Span = match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => receiver.span(),
        _ => sig.ident.span(),
    };
    errors.at_span(span, message);
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

fn key(ty: &Type) -> String {
    ty.to_token_stream().to_string()
}

/// Reports handlers that repeat a command, an event or a variant name, and
/// drops them so the rest still expands.
fn check_duplicates(
    errors: &mut Errors,
    commands: &mut Vec<CommandHandler>,
    events: &mut Vec<EventHandler>,
) {
    let mut seen: HashMap<String, Ident> = HashMap::new();
    commands.retain(|handler| {
        let ty = key(&handler.command);
        match seen.get(&ty) {
            Some(first) => {
                errors.at(
                    &handler.command,
                    format!(
                        "two command handlers for `{ty}`: `{first}` and `{}`",
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
    let mut seen: HashMap<String, Ident> = HashMap::new();
    let mut variants: HashMap<String, String> = HashMap::new();
    events.retain(|handler| {
        let ty = key(&handler.event);
        if let Some(first) = seen.get(&ty) {
            errors.at(
                &handler.event,
                format!(
                    "two event sourcing handlers for `{ty}`: `{first}` and `{}`",
                    handler.method
                ),
            );
            return false;
        }
        if let Some(other) = variants.get(&handler.variant.to_string()) {
            errors.at(
                &handler.event,
                format!(
                    "two events named `{}` (`{other}` and `{ty}`): the generated enum needs distinct type names",
                    handler.variant
                ),
            );
            return false;
        }
        seen.insert(ty.clone(), handler.method.clone());
        variants.insert(handler.variant.to_string(), ty);
        true
    });
}
