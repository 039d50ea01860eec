//! Reading an `#[aggregate_impl]` block into its model: the options, the
//! aggregate it is on, and which methods are handlers of which kind (each
//! handler is read and checked in [`check`](super::check)).

use quote::format_ident;
use syn::{Attribute, Ident, ImplItem, ImplItemFn, ItemImpl, Path, Type, Visibility};

use super::check;
use super::model::Model;
use crate::attr::{Args, Key};
use crate::diagnostics::{Errors, render};
use crate::paths::runtime_path;

/// The keys `#[aggregate_impl]` takes.
pub(crate) const KEYS: &[Key] = &[Key::EventEnum, Key::Vis, Key::Crate];

enum Role {
    Command(Attribute),
    Event(Attribute),
}

pub(crate) fn parse(errors: &mut Errors, args: &Args, mut item: ItemImpl) -> Model {
    let krate = runtime_path(errors, args);
    let (self_ident, collect) = self_ident(errors, &item);
    let enum_ident = match args.path(errors, Key::EventEnum, "AccountEvent") {
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
        .visibility(errors, Key::Vis)
        .unwrap_or_else(|| Visibility::Public(Default::default()));

    let mut commands = Vec::new();
    let mut events = Vec::new();
    let mut event_attrs = 0;
    let mut events_complete = collect;
    let mut handler_paths = Vec::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(function) = impl_item else {
            continue;
        };
        // Always mark the handler attributes as read, so a block that cannot
        // be expanded does not also report each of them as misplaced.
        let role = take_role(errors, function, &mut handler_paths);
        if !collect {
            continue;
        }
        let is_handler = role.is_some();
        match role {
            Some(Role::Command(attr)) => {
                if let Some(handler) = check::command_handler(errors, &attr, function) {
                    commands.push(handler);
                }
            }
            Some(Role::Event(attr)) => {
                event_attrs += 1;
                match check::event_handler(errors, &attr, function) {
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

    if !check::duplicates(errors, &mut commands, &mut events) {
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
        handler_paths,
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

/// Removes this macro's handler attributes from `function`, returning its
/// role; each distinct path they were named by is added to `paths`.
fn take_role(
    errors: &mut Errors,
    function: &mut ImplItemFn,
    paths: &mut Vec<Path>,
) -> Option<Role> {
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
        // Removed rather than left for the compiler to expand (one more
        // macro call per handler); the path is imported once instead, so
        // the user's import of it stays used.
        let path = attr.path();
        if !paths.iter().any(|known| known == path) {
            paths.push(path.clone());
        }
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
