//! Reading and checking each handler of an `#[aggregate_impl]` block: one
//! named check per rule, each reporting its mistake on the user's tokens.
//!
//! A handler with a mistake in its signature is reported and kept, marked
//! not callable: its command still gets a `Handles` impl and its event a
//! variant, so the one mistake does not cascade into errors wherever the
//! command or the event is used.

use std::collections::HashMap;

use quote::quote;
use syn::{Attribute, FnArg, Ident, ImplItemFn, PatType, ReturnType, Signature, Type};

use super::model::{CommandHandler, EventHandler, Policy};
use crate::attr::{self, Key};
use crate::diagnostics::{Errors, render};
use crate::signature::{self, Generics, Plain, Receiver};

/// The keys `#[command_handler]` takes.
const COMMAND_KEYS: &[Key] = &[Key::Create, Key::CreateIfMissing];

/// A command handler: `fn decide(&self, cmd: &C[, meta: &Metadata]) -> Events`.
pub(super) fn command_handler(
    errors: &mut Errors,
    attr: &Attribute,
    function: &ImplItemFn,
) -> Option<CommandHandler> {
    let policy = check_policy(errors, attr);
    let sig = &function.sig;
    let mut callable = signature::check_plain(
        errors,
        sig,
        &Plain {
            what: "a command handler",
            not_async: Some("it decides from the aggregate's state alone"),
            generics: Generics::None,
        },
    );
    callable &= signature::check_receiver(
        errors,
        sig,
        Receiver::Shared,
        "a command handler takes `&self`: it decides which events happen, and only the event sourcing handlers change state",
    );
    let mut params = arguments(sig).into_iter();
    let Some(FnArg::Typed(command_arg)) = params.next() else {
        errors.at(
            &sig.ident,
            "a command handler takes the command as its argument: `fn handle(&self, cmd: &MyCommand)`",
        );
        return None;
    };
    let (command, by_ref) = check_command_argument(errors, command_arg, &mut callable);
    let metadata = match params.next() {
        Some(FnArg::Typed(arg)) => Some(check_metadata_argument(errors, arg, &mut callable)),
        _ => None,
    };
    let extra: Vec<&FnArg> = params.collect();
    if let (Some(first), Some(last)) = (extra.first(), extra.last()) {
        errors.at(
            quote!(#first #last),
            "a command handler takes the command and, optionally, `meta: &Metadata`; nothing more",
        );
        callable = false;
    }
    let output = check_command_output(errors, sig, &mut callable);
    let (fallible, events_ty) = match &output {
        Some(output) => {
            let returns = signature::returns(output);
            let events = returns.ok().unwrap_or(output).clone();
            (returns.is_result(), Some(events))
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

/// `#[command_handler]`, `(create)` or `(create_if_missing)`: at most one.
fn check_policy(errors: &mut Errors, attr: &Attribute) -> Policy {
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
    let create = args.flag(errors, Key::Create);
    let if_missing = args.flag(errors, Key::CreateIfMissing);
    match (create, if_missing) {
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
    }
}

/// The command, by value or by shared reference; its type without the
/// reference, and whether it was one.
fn check_command_argument(errors: &mut Errors, arg: &PatType, callable: &mut bool) -> (Type, bool) {
    match &*arg.ty {
        Type::Reference(r) if r.mutability.is_some() => {
            errors.at(
                &arg.ty,
                "a command handler takes the command by value or by shared reference, not `&mut`",
            );
            *callable = false;
            ((*r.elem).clone(), true)
        }
        Type::Reference(r) => ((*r.elem).clone(), true),
        other => (other.clone(), false),
    }
}

/// The metadata, by shared reference; its declared type.
fn check_metadata_argument(errors: &mut Errors, arg: &PatType, callable: &mut bool) -> Type {
    if !matches!(&*arg.ty, Type::Reference(r) if r.mutability.is_none()) {
        errors.at(
            &arg.ty,
            "a command handler takes the metadata by shared reference: `meta: &Metadata`",
        );
        *callable = false;
    }
    (*arg.ty).clone()
}

/// A command handler returns the events it decides on.
fn check_command_output(errors: &mut Errors, sig: &Signature, callable: &mut bool) -> Option<Type> {
    match &sig.output {
        ReturnType::Type(_, ty) => Some((**ty).clone()),
        ReturnType::Default => {
            errors.at(
                &sig.ident,
                "a command handler returns the events it decides on: an event, an `Option`, `Vec`, array or tuple of events, or a `Result` of those",
            );
            *callable = false;
            None
        }
    }
}

/// An event sourcing handler: `fn apply(&mut self, e: &E)`, returning nothing.
pub(super) fn event_handler(
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
    let mut callable = signature::check_plain(
        errors,
        sig,
        &Plain {
            what: "an event sourcing handler",
            not_async: Some("it applies an event that already happened to the state in memory"),
            generics: Generics::None,
        },
    );
    callable &= signature::check_receiver(
        errors,
        sig,
        Receiver::Mutable,
        "an event sourcing handler takes `&mut self`: it applies the event to the state",
    );
    let arguments = arguments(sig);
    let arg: &PatType = match arguments.as_slice() {
        [FnArg::Typed(arg), rest @ ..] => {
            if let (Some(first), Some(last)) = (rest.first(), rest.last()) {
                errors.at(
                    quote!(#first #last),
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
    check_event_output(errors, sig, &mut callable);
    let event = check_event_argument(errors, arg, &mut callable);
    let variant = variant_name(errors, &event)?;
    Some(EventHandler {
        method: sig.ident.clone(),
        event,
        variant,
        callable,
    })
}

/// Applying an event that already happened returns nothing.
fn check_event_output(errors: &mut Errors, sig: &Signature, callable: &mut bool) {
    if let ReturnType::Type(_, ty) = &sig.output {
        let unit = matches!(&**ty, Type::Tuple(t) if t.elems.is_empty());
        if !unit {
            errors.at(
                ty,
                "an event sourcing handler returns nothing: applying an event that already happened cannot fail",
            );
            *callable = false;
        }
    }
}

/// The event, by shared reference; its type without the reference.
fn check_event_argument(errors: &mut Errors, arg: &PatType, callable: &mut bool) -> Type {
    let (event, shared) = match &*arg.ty {
        Type::Reference(r) => ((*r.elem).clone(), r.mutability.is_none()),
        other => (other.clone(), false),
    };
    if !shared {
        let shown = match &*arg.ty {
            Type::Reference(_) => &*arg.ty,
            other => other,
        };
        errors.at(
            shown,
            format!(
                "an event sourcing handler takes the event by shared reference: `&{}`",
                render(&event)
            ),
        );
        *callable = false;
    }
    event
}

/// The enum variant the event becomes: the last segment of its path.
fn variant_name(errors: &mut Errors, event: &Type) -> Option<Ident> {
    let variant = match event {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.clone())
        }
        _ => None,
    };
    if variant.is_none() {
        errors.at(
            event,
            "the event of an event sourcing handler must be a named type deriving `Event`",
        );
    }
    variant
}

/// The arguments after the receiver.
fn arguments(sig: &Signature) -> Vec<&FnArg> {
    sig.inputs
        .iter()
        .skip_while(|arg| matches!(arg, FnArg::Receiver(_)))
        .collect()
}

/// Reports handlers that repeat a command, an event or a variant name, and
/// drops them so the rest still expands. False if an event type was dropped
/// (the enum then lacks it).
pub(super) fn duplicates(
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
