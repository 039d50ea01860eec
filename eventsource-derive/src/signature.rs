//! The rules every handler signature shares, written once: the receiver,
//! the plain-function checks (`async`, `unsafe`, generics, `...`), and how a
//! return type is read as a `Result`.

use syn::{FnArg, Signature, Type};

use crate::diagnostics::Errors;

/// How a method takes `self`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// `&self` or `self: &Self`.
    Shared,
    /// `&mut self` or `self: &mut Self`.
    Mutable,
    /// By value, or a type other than a reference.
    Other,
}

/// The receiver of `sig`, if it has one, and how it takes `self`.
pub(crate) fn receiver(sig: &Signature) -> Option<(&syn::Receiver, Receiver)> {
    let Some(FnArg::Receiver(receiver)) = sig.inputs.first() else {
        return None;
    };
    let kind = match &receiver.kind {
        syn::ReceiverKind::Reference(_, _, Some(_)) => Receiver::Mutable,
        syn::ReceiverKind::Reference(_, _, None) => Receiver::Shared,
        syn::ReceiverKind::Typed(_, ty) => match &**ty {
            Type::Reference(r) if r.mutability.is_some() => Receiver::Mutable,
            Type::Reference(_) => Receiver::Shared,
            _ => Receiver::Other,
        },
        _ => Receiver::Other,
    };
    Some((receiver, kind))
}

/// Reports `message` unless `sig` takes `self` as `wanted`: on the receiver
/// when there is one, else on the method's name.
pub(crate) fn check_receiver(
    errors: &mut Errors,
    sig: &Signature,
    wanted: Receiver,
    message: &str,
) -> bool {
    match receiver(sig) {
        Some((_, found)) if found == wanted => true,
        Some((receiver, _)) => {
            errors.at(receiver, message);
            false
        }
        None => {
            errors.at_span(sig.ident.span(), message);
            false
        }
    }
}

/// Which generic parameters a handler may have.
#[derive(Clone, Copy)]
pub(crate) enum Generics<'a> {
    /// None at all, nor a `where` clause.
    None,
    /// Lifetimes only (they do not stop a call); `why` follows the message.
    LifetimesOnly { why: &'a str },
}

/// What a kind of function must not be.
pub(crate) struct Plain<'a> {
    /// The function, in messages: "a command handler".
    pub(crate) what: &'a str,
    /// Why it cannot be `async`; `None` when it may be.
    pub(crate) not_async: Option<&'a str>,
    pub(crate) generics: Generics<'a>,
}

/// Reports each of `async` (when not allowed), `unsafe`, generic parameters
/// and `...` in `sig`; `true` when there is none.
pub(crate) fn check_plain(errors: &mut Errors, sig: &Signature, rules: &Plain<'_>) -> bool {
    let what = rules.what;
    let mut ok = true;
    if let (Some(token), Some(why)) = (&sig.asyncness, rules.not_async) {
        errors.at(token, format!("{what} cannot be async: {why}"));
        ok = false;
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        errors.at(token, format!("{what} cannot be unsafe"));
        ok = false;
    }
    match rules.generics {
        Generics::None
            if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() =>
        {
            errors.at(&sig.generics, format!("{what} cannot be generic"));
            ok = false;
        }
        Generics::LifetimesOnly { why } if has_type_parameters(sig) => {
            errors.at(&sig.generics, format!("{what} cannot be generic: {why}"));
            ok = false;
        }
        _ => {}
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, format!("{what} cannot be variadic"));
        ok = false;
    }
    ok
}

/// Type or const parameters (lifetimes alone do not stop a call).
pub(crate) fn has_type_parameters(sig: &Signature) -> bool {
    sig.generics
        .params
        .iter()
        .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
}

/// How a return type reads as a `Result`: the one rule every macro uses.
pub(crate) enum Returns<'a> {
    /// `Result<T, E>` written out with both arguments: no trait is needed
    /// to split it.
    Result { ok: &'a Type, error: &'a Type },
    /// Another path whose last segment ends in `Result` (`BankResult<T>`,
    /// `anyhow::Result<()>`): taken to be a `Result`, split through a
    /// trait; its first type argument, if any.
    ResultAlias { first: Option<&'a Type> },
    /// Anything else.
    Value,
}

/// Reads `ty` by the rule of [`Returns`].
pub(crate) fn returns(ty: &Type) -> Returns<'_> {
    let Type::Path(path) = ty else {
        return Returns::Value;
    };
    let Some(last) = path.path.segments.last() else {
        return Returns::Value;
    };
    if !last.ident.to_string().ends_with("Result") {
        return Returns::Value;
    }
    let types: Vec<&Type> = match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    match types.as_slice() {
        [ok, error] if last.ident == "Result" => Returns::Result { ok, error },
        _ => Returns::ResultAlias {
            first: types.first().copied(),
        },
    }
}

impl<'a> Returns<'a> {
    /// Whether the type is taken to be a `Result`.
    pub(crate) fn is_result(&self) -> bool {
        !matches!(self, Self::Value)
    }

    /// The success type when the type names it: `T` of `Result<T, E>` or of
    /// `BankResult<T>`.
    pub(crate) fn ok(&self) -> Option<&'a Type> {
        match self {
            Self::Result { ok, .. } => Some(ok),
            Self::ResultAlias { first } => *first,
            Self::Value => None,
        }
    }

    /// `E` of a `Result<T, E>` written out.
    pub(crate) fn error(&self) -> Option<&'a Type> {
        match self {
            Self::Result { error, .. } => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::render;

    fn read(src: &str) -> (bool, Option<String>, Option<String>) {
        let ty: Type = syn::parse_str(src).unwrap();
        let r = returns(&ty);
        (r.is_result(), r.ok().map(render), r.error().map(render))
    }

    #[test]
    fn one_rule_reads_every_result() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            read("Result<(), MyError>"),
            (true, some("()"), some("MyError"))
        );
        assert_eq!(
            read("std::result::Result<A, E>"),
            (true, some("A"), some("E"))
        );
        assert_eq!(
            read("BankResult<Deposited>"),
            (true, some("Deposited"), None)
        );
        assert_eq!(read("anyhow::Result<()>"), (true, some("()"), None));
        assert_eq!(read("AccountResult"), (true, None, None));
        assert_eq!(read("Outcome"), (false, None, None));
        assert_eq!(read("Vec<Result<A, E>>"), (false, None, None));
    }
}
