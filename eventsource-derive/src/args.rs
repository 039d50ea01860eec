//! Parsing `key = value` attribute arguments, with unknown and duplicate
//! keys reported against the list of valid ones.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, LitInt, LitStr, Meta, Token};

use crate::errors::Errors;

/// One `key`, `key = value` or `key(...)` argument.
pub(crate) struct Arg {
    pub(crate) key: String,
    pub(crate) meta: Meta,
}

impl Arg {
    pub(crate) fn span(&self) -> Span {
        self.meta.path().span()
    }
}

/// The arguments of one attribute, already checked against `valid` keys.
pub(crate) struct Args {
    /// The attribute, as users write it (for messages): `#[event]`.
    pub(crate) attr: &'static str,
    pub(crate) list: Vec<Arg>,
}

/// Parses `tokens` as the comma-separated arguments of `attr`.
pub(crate) fn parse(
    errors: &mut Errors,
    attr: &'static str,
    tokens: TokenStream,
    valid: &[&str],
) -> Args {
    let mut args = Args {
        attr,
        list: Vec::new(),
    };
    let parsed = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(parsed) => parsed,
        Err(err) => {
            errors.push(err);
            return args;
        }
    };
    for meta in parsed {
        let path = meta.path();
        let key = match path.get_ident() {
            Some(ident) => ident.to_string(),
            None => {
                errors.at(path, format!("unknown key in {attr}; {}", expected(valid)));
                continue;
            }
        };
        if !valid.contains(&key.as_str()) {
            errors.at(
                path,
                format!("unknown key `{key}` in {attr}; {}", expected(valid)),
            );
            continue;
        }
        if args.list.iter().any(|a| a.key == key) {
            errors.at(path, format!("duplicate key `{key}` in {attr}"));
            continue;
        }
        args.list.push(Arg { key, meta });
    }
    args
}

/// Parses the arguments of every attribute named `name` in `attrs`, as one list.
pub(crate) fn parse_attrs(
    errors: &mut Errors,
    attr: &'static str,
    attrs: &[syn::Attribute],
    name: &str,
    valid: &[&str],
) -> (Args, Option<Span>) {
    let mut all = Args {
        attr,
        list: Vec::new(),
    };
    let mut first = None;
    for attribute in attrs.iter().filter(|a| a.path().is_ident(name)) {
        first.get_or_insert_with(|| attribute.span());
        let tokens = match &attribute.meta {
            Meta::List(list) => list.tokens.clone(),
            other => {
                errors.at(
                    other,
                    format!("expected {attr} with arguments: `{}`", example(name, valid)),
                );
                continue;
            }
        };
        for arg in parse(errors, attr, tokens, valid).list {
            if all.list.iter().any(|a| a.key == arg.key) {
                errors.at(
                    arg.meta.path(),
                    format!("duplicate key `{}` in {attr}", arg.key),
                );
            } else {
                all.list.push(arg);
            }
        }
    }
    (all, first)
}

fn example(name: &str, valid: &[&str]) -> String {
    match valid.first() {
        Some(key) => format!("#[{name}({key} = ...)]"),
        None => format!("#[{name}]"),
    }
}

fn expected(valid: &[&str]) -> String {
    match valid {
        [] => "it takes no arguments".to_owned(),
        [one] => format!("the only valid key is `{one}`"),
        _ => format!(
            "valid keys are {}",
            valid
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl Args {
    pub(crate) fn get(&self, key: &str) -> Option<&Arg> {
        self.list.iter().find(|a| a.key == key)
    }

    /// `key = value`: the value expression.
    fn value<'a>(&self, errors: &mut Errors, arg: &'a Arg, form: &str) -> Option<&'a Expr> {
        match &arg.meta {
            Meta::NameValue(nv) => Some(&nv.value),
            other => {
                errors.at(
                    other,
                    format!("expected `{} = {form}` in {}", arg.key, self.attr),
                );
                None
            }
        }
    }

    /// `key = "text"`.
    pub(crate) fn string(&self, errors: &mut Errors, key: &str) -> Option<LitStr> {
        let arg = self.get(key)?;
        match self.value(errors, arg, "\"...\"")? {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.clone()),
            other => {
                errors.at(
                    other,
                    format!("expected a string literal for `{key}` in {}", self.attr),
                );
                None
            }
        }
    }

    /// `key = N`, a positive integer.
    pub(crate) fn positive(&self, errors: &mut Errors, key: &str) -> Option<(u64, LitInt)> {
        let arg = self.get(key)?;
        let lit = match self.value(errors, arg, "N")? {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => i.clone(),
            other => {
                errors.at(
                    other,
                    format!("expected an integer for `{key}` in {}", self.attr),
                );
                return None;
            }
        };
        match lit.base10_parse::<u64>() {
            Ok(0) => {
                errors.at(&lit, format!("`{key}` must be at least 1"));
                None
            }
            Ok(n) => Some((n, lit)),
            Err(err) => {
                errors.push(err);
                None
            }
        }
    }

    /// `key = N` that must fit a `u32`.
    pub(crate) fn positive_u32(&self, errors: &mut Errors, key: &str) -> Option<(u32, LitInt)> {
        let (n, lit) = self.positive(errors, key)?;
        match u32::try_from(n) {
            Ok(n) => Some((n, lit)),
            Err(_) => {
                errors.at(&lit, format!("`{key}` must fit in a u32"));
                None
            }
        }
    }

    /// `key = some::path`.
    pub(crate) fn path(&self, errors: &mut Errors, key: &str) -> Option<syn::Path> {
        let arg = self.get(key)?;
        match self.value(errors, arg, "path")? {
            Expr::Path(p) if p.qself.is_none() => Some(p.path.clone()),
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => match s.parse::<syn::Path>() {
                Ok(path) => Some(path),
                Err(err) => {
                    errors.push(err);
                    None
                }
            },
            other => {
                errors.at(
                    other,
                    format!("expected a path for `{key}` in {}", self.attr),
                );
                None
            }
        }
    }

    /// `key = ["a", "b"]`.
    pub(crate) fn strings(&self, errors: &mut Errors, key: &str) -> Vec<LitStr> {
        let Some(arg) = self.get(key) else {
            return Vec::new();
        };
        let Some(value) = self.value(errors, arg, "[\"...\", ...]") else {
            return Vec::new();
        };
        let elems: Vec<&Expr> = match value {
            Expr::Array(array) => array.elems.iter().collect(),
            Expr::Lit(ExprLit {
                lit: Lit::Str(_), ..
            }) => vec![value],
            other => {
                errors.at(
                    other,
                    format!(
                        "expected a list of string literals for `{key}` in {}: `{key} = [\"...\"]`",
                        self.attr
                    ),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for elem in elems {
            match elem {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => out.push(s.clone()),
                other => errors.at(
                    other,
                    format!("expected a string literal in `{key}` of {}", self.attr),
                ),
            }
        }
        out
    }

    /// A bare `key` flag.
    pub(crate) fn flag(&self, errors: &mut Errors, key: &str) -> Option<Span> {
        let arg = self.get(key)?;
        match &arg.meta {
            Meta::Path(_) => Some(arg.span()),
            other => {
                errors.at(other, format!("`{key}` in {} takes no value", self.attr));
                None
            }
        }
    }
}
