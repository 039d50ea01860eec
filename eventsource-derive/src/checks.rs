//! Checks several macros make: a registered type is concrete, a stored name
//! is well formed.

use syn::{Generics, LitStr};

use crate::diagnostics::Errors;

/// Registry entries are statics, so the registered type must be concrete.
pub(crate) fn reject_generics(errors: &mut Errors, generics: &Generics, what: &str) {
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        errors.at(
            generics,
            format!("{what} cannot be generic: the registry needs one concrete type per name"),
        );
    }
}

/// A stored name: not empty, no white space or control characters.
/// `what` names it in messages: "`name` in #[event]".
pub(crate) fn check_name(errors: &mut Errors, name: &LitStr, what: &str) {
    let value = name.value();
    if value.trim().is_empty() {
        errors.at(name, format!("{what} must not be empty"));
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.at(
            name,
            format!("{what} must not contain white space or control characters"),
        );
    }
}
