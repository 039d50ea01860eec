//! Parsing `key = value` attribute arguments, with unknown and duplicate
//! keys reported against the list of valid ones.
//!
//! Arguments are split at top-level commas and each value is kept as raw
//! tokens, so a bad value is reported against the key it belongs to (rather
//! than as a generic parse error for the whole list) and each accessor can
//! accept the forms that make sense for its key (`vis = pub(crate)` as well
//! as `vis = "pub(crate)"`).

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, LitInt, LitStr, Meta, Path, Token, Visibility};

use crate::diagnostics::Errors;

mod key;
mod suggest;

pub(crate) use key::Key;
use suggest::{did_you_mean, expected};

/// The value part of one argument.
pub(crate) enum Value {
    /// A bare `key`.
    Flag,
    /// `key = tokens`.
    Assign(TokenStream),
    /// `key(tokens)`.
    List(TokenStream),
}

/// One argument.
pub(crate) struct Arg {
    pub(crate) key: Key,
    /// The key as written, where errors about the argument as a whole point.
    pub(crate) path: Path,
    pub(crate) value: Value,
}

impl Arg {
    pub(crate) fn span(&self) -> Span {
        self.path.span()
    }

    /// The whole argument, `key = value`, for spanning errors.
    fn tokens(&self) -> TokenStream {
        let mut tokens = self.path.to_token_stream();
        match &self.value {
            Value::Flag => {}
            Value::Assign(value) => {
                <Token![=]>::default().to_tokens(&mut tokens);
                tokens.extend(value.clone());
            }
            Value::List(inner) => tokens.extend(quote::quote!((#inner))),
        }
        tokens
    }
}

/// The arguments of one attribute, already checked against the valid keys.
pub(crate) struct Args {
    /// The attribute, as users write it (for messages): `#[event]`.
    pub(crate) attr: &'static str,
    pub(crate) list: Vec<Arg>,
    /// The keys the attribute takes.
    valid: &'static [Key],
    /// False once an argument was malformed or unknown: "missing key" errors
    /// are then left out, as the user most likely misspelt that key.
    pub(crate) complete: bool,
}

/// Parses `tokens` as the comma-separated arguments of `attr`.
pub(crate) fn parse(
    errors: &mut Errors,
    attr: &'static str,
    tokens: TokenStream,
    valid: &'static [Key],
) -> Args {
    let mut args = Args {
        attr,
        list: Vec::new(),
        valid,
        complete: true,
    };
    args.add(errors, tokens);
    args
}

/// Parses the arguments of every attribute named `name` in `attrs`, as one list.
///
/// `example` is how the attribute is written, for the message about an
/// attribute without arguments: `#[event(name = "...")]`.
pub(crate) fn parse_attrs(
    errors: &mut Errors,
    attr: &'static str,
    attrs: &[Attribute],
    name: &str,
    valid: &'static [Key],
    example: &str,
) -> Args {
    let mut all = Args {
        attr,
        list: Vec::new(),
        valid,
        complete: true,
    };
    for attribute in attrs.iter().filter(|a| a.path().is_ident(name)) {
        match &attribute.meta {
            Meta::List(list) => all.add(errors, list.tokens.clone()),
            other => {
                errors.at(other, format!("{attr} takes arguments: `{example}`"));
                all.complete = false;
            }
        }
    }
    all
}

/// Splits `tokens` at top-level commas. A group counts as one token, so
/// commas inside `[...]` or `(...)` do not split, and neither do commas
/// between angle brackets (`result = BTreeMap<String, u64>`).
fn split_commas(tokens: TokenStream) -> Vec<(TokenStream, Option<Span>)> {
    let mut chunks = Vec::new();
    let mut current = TokenStream::new();
    // Open `<` of generic arguments; the `>` of `->` closes none.
    let mut angles = 0usize;
    let mut arrow = false;
    for tree in tokens {
        let after_dash = std::mem::take(&mut arrow);
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' && angles == 0 => {
                chunks.push((std::mem::take(&mut current), Some(p.span())));
                continue;
            }
            TokenTree::Punct(p) if p.as_char() == '<' => angles += 1,
            TokenTree::Punct(p) if p.as_char() == '>' && !after_dash => {
                angles = angles.saturating_sub(1);
            }
            TokenTree::Punct(p) if p.as_char() == '-' => {
                arrow = p.spacing() == proc_macro2::Spacing::Joint;
            }
            _ => {}
        }
        current.extend([tree]);
    }
    if !current.is_empty() {
        chunks.push((current, None));
    }
    chunks
}

/// `key`, `key = tokens` or `key(tokens)`.
fn parse_arg(input: ParseStream<'_>) -> syn::Result<(Path, Value)> {
    let path = Path::parse_mod_style(input)?;
    if input.is_empty() {
        return Ok((path, Value::Flag));
    }
    if input.peek(Token![=]) {
        let eq: Token![=] = input.parse()?;
        let value: TokenStream = input.parse()?;
        if value.is_empty() {
            return Err(syn::Error::new(eq.span, "expected a value after `=`"));
        }
        return Ok((path, Value::Assign(value)));
    }
    if input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in input);
        let inner: TokenStream = content.parse()?;
        if input.is_empty() {
            return Ok((path, Value::List(inner)));
        }
    }
    Err(input.error("expected `,` or `=`"))
}

impl Args {
    fn add(&mut self, errors: &mut Errors, tokens: TokenStream) {
        let (attr, valid) = (self.attr, self.valid);
        for (chunk, comma) in split_commas(tokens) {
            if chunk.is_empty() {
                // `,,` or a leading comma.
                if let Some(span) = comma {
                    errors.at_span(span, format!("unexpected `,` in {attr}"));
                }
                self.complete = false;
                continue;
            }
            let (path, value) = match parse_arg.parse2(chunk.clone()) {
                Ok(parsed) => parsed,
                Err(err) => {
                    errors.at_span(
                        err.span(),
                        format!(
                            "{err} in {attr}: arguments are written `key = value` and separated by commas"
                        ),
                    );
                    self.complete = false;
                    continue;
                }
            };
            let written = match path.get_ident() {
                Some(ident) => ident.to_string(),
                None => {
                    let shown = crate::diagnostics::render(&path);
                    errors.at(
                        &path,
                        format!("unknown key `{shown}` in {attr}; {}", expected(valid)),
                    );
                    self.complete = false;
                    continue;
                }
            };
            let Some(key) = valid.iter().copied().find(|k| k.as_str() == written) else {
                let hint = match did_you_mean(&written, valid) {
                    Some(close) => format!("did you mean `{close}`? "),
                    None => String::new(),
                };
                errors.at(
                    &path,
                    format!(
                        "unknown key `{written}` in {attr}; {hint}{}",
                        expected(valid)
                    ),
                );
                self.complete = false;
                continue;
            };
            if self.list.iter().any(|a| a.key == key) {
                errors.at(
                    &path,
                    format!("duplicate key `{key}` in {attr}: each key may be given once"),
                );
                continue;
            }
            self.list.push(Arg { key, path, value });
        }
    }

    pub(crate) fn get(&self, key: Key) -> Option<&Arg> {
        debug_assert!(
            self.valid.contains(&key),
            "{} takes no `{key}`: the lookup would never find it",
            self.attr
        );
        self.list.iter().find(|a| a.key == key)
    }

    /// Whether `key` is absent and its absence should be reported (nothing
    /// else went wrong in the arguments that could explain it).
    pub(crate) fn missing(&self, key: Key) -> bool {
        self.complete && self.get(key).is_none()
    }

    /// `key = value`: the value tokens, or an error showing `key = {form}`.
    fn assigned<'a>(
        &self,
        errors: &mut Errors,
        arg: &'a Arg,
        form: &str,
    ) -> Option<&'a TokenStream> {
        match &arg.value {
            Value::Assign(tokens) => Some(tokens),
            Value::Flag | Value::List(_) => {
                errors.at(
                    arg.tokens(),
                    format!("expected `{} = {form}` in {}", arg.key, self.attr),
                );
                None
            }
        }
    }

    /// Parses the value of `arg` as `T`, reporting `message` (with `key = form`)
    /// if it is something else and a missing comma if something follows it.
    fn value<T: Parse>(&self, errors: &mut Errors, arg: &Arg, form: &str, what: &str) -> Option<T> {
        let tokens = self.assigned(errors, arg, form)?;
        // Ok(value), Err(None): not a `T`, Err(Some(span)): a `T` and then more.
        let parser = |input: ParseStream<'_>| -> syn::Result<Result<T, Option<Span>>> {
            let outcome = match input.parse::<T>() {
                Ok(value) if input.is_empty() => Ok(value),
                Ok(_) => Err(Some(input.span())),
                Err(_) => Err(None),
            };
            input.parse::<TokenStream>()?;
            Ok(outcome)
        };
        match parser.parse2(tokens.clone()) {
            Ok(Ok(value)) => Some(value),
            Ok(Err(Some(span))) => {
                errors.at_span(
                    span,
                    format!(
                        "expected `,` after the value of `{}` in {}",
                        arg.key, self.attr
                    ),
                );
                None
            }
            Ok(Err(None)) | Err(_) => {
                errors.at(
                    tokens,
                    format!(
                        "expected {what} for `{}` in {}: `{} = {form}`",
                        arg.key, self.attr, arg.key
                    ),
                );
                None
            }
        }
    }

    /// `key = "text"`.
    pub(crate) fn string(&self, errors: &mut Errors, key: Key) -> Option<LitStr> {
        let arg = self.get(key)?;
        self.value::<LitStr>(errors, arg, "\"...\"", "a string literal")
    }

    /// `key = N`, a positive integer no larger than `max`.
    fn bounded(&self, errors: &mut Errors, key: Key, max: u64) -> Option<(u64, LitInt)> {
        let arg = self.get(key)?;
        let lit = self.value::<LitInt>(errors, arg, "N", "an integer")?;
        // The value as written: `-1` is two tokens, and an error about it
        // should cover both, not only the sign.
        let written = match &arg.value {
            Value::Assign(tokens) => tokens.clone(),
            Value::Flag | Value::List(_) => lit.to_token_stream(),
        };
        let attr = self.attr;
        if !lit.suffix().is_empty() {
            errors.at(
                written,
                format!(
                    "`{key}` in {attr} takes a plain integer, without the `{}` suffix",
                    lit.suffix()
                ),
            );
            return None;
        }
        if lit.base10_digits().starts_with('-') {
            errors.at(written, format!("`{key}` in {attr} must be at least 1"));
            return None;
        }
        match lit.base10_parse::<u64>() {
            Ok(0) => {
                errors.at(written, format!("`{key}` in {attr} must be at least 1"));
                None
            }
            Ok(n) if n <= max => Some((n, lit)),
            _ => {
                errors.at(
                    written,
                    format!("`{key}` in {attr} is too large: the largest value is {max}"),
                );
                None
            }
        }
    }

    /// `key = N`, a positive `u64`.
    pub(crate) fn positive(&self, errors: &mut Errors, key: Key) -> Option<(u64, LitInt)> {
        self.bounded(errors, key, u64::MAX)
    }

    /// `key = N`, a positive `u32`.
    pub(crate) fn positive_u32(&self, errors: &mut Errors, key: Key) -> Option<(u32, LitInt)> {
        let (n, lit) = self.bounded(errors, key, u64::from(u32::MAX))?;
        u32::try_from(n).ok().map(|n| (n, lit))
    }

    /// `key = N`, a `u32` from 1 to `max`.
    pub(crate) fn positive_at_most(
        &self,
        errors: &mut Errors,
        key: Key,
        max: u32,
    ) -> Option<(u32, LitInt)> {
        let (n, lit) = self.bounded(errors, key, u64::from(max))?;
        u32::try_from(n).ok().map(|n| (n, lit))
    }

    /// `key = some::path`, or the path in a string: `key = "some::path"`.
    /// `example` is shown in the error: `Account`.
    pub(crate) fn path(&self, errors: &mut Errors, key: Key, example: &str) -> Option<Path> {
        let arg = self.get(key)?;
        let tokens = self.assigned(errors, arg, example)?;
        let parsed = Path::parse.parse2(tokens.clone()).or_else(|_| {
            <LitStr as Parse>::parse
                .parse2(tokens.clone())
                .and_then(|s| s.parse::<Path>())
        });
        match parsed {
            Ok(path) => Some(path),
            Err(_) => {
                errors.at(
                    tokens,
                    format!(
                        "expected a path for `{key}` in {}: `{key} = {example}`",
                        self.attr
                    ),
                );
                None
            }
        }
    }

    /// `key = Type`. `example` is shown in the error: `OrderView`.
    pub(crate) fn ty(&self, errors: &mut Errors, key: Key, example: &str) -> Option<syn::Type> {
        let arg = self.get(key)?;
        let tokens = self.assigned(errors, arg, example)?;
        match syn::Type::parse.parse2(tokens.clone()) {
            Ok(ty) => Some(ty),
            Err(_) => {
                errors.at(
                    tokens,
                    format!(
                        "expected a type for `{key}` in {}: `{key} = {example}`",
                        self.attr
                    ),
                );
                None
            }
        }
    }

    /// `key = pub(crate)` or `key = "pub(crate)"`.
    pub(crate) fn visibility(&self, errors: &mut Errors, key: Key) -> Option<Visibility> {
        let arg = self.get(key)?;
        let tokens = self.assigned(errors, arg, "pub(crate)")?;
        let parsed = Visibility::parse.parse2(tokens.clone()).or_else(|_| {
            <LitStr as Parse>::parse
                .parse2(tokens.clone())
                .and_then(|s| s.parse::<Visibility>())
        });
        match parsed {
            Ok(vis) => Some(vis),
            Err(_) => {
                errors.at(
                    tokens,
                    format!(
                        "expected a visibility for `{key}` in {}, such as `pub`, `pub(crate)` or `pub(super)`",
                        self.attr
                    ),
                );
                None
            }
        }
    }

    /// `key = ["a", "b"]` (or a single `"a"`).
    pub(crate) fn strings(&self, errors: &mut Errors, key: Key) -> Vec<LitStr> {
        let Some(arg) = self.get(key) else {
            return Vec::new();
        };
        let Some(tokens) = self.assigned(errors, arg, "[\"...\"]") else {
            return Vec::new();
        };
        if let Ok(single) = <LitStr as Parse>::parse.parse2(tokens.clone()) {
            return vec![single];
        }
        let list = syn::ExprArray::parse.parse2(tokens.clone());
        let Ok(list) = list else {
            errors.at(
                tokens,
                format!(
                    "expected a list of string literals for `{key}` in {}: `{key} = [\"...\"]`",
                    self.attr
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for elem in list.elems {
            match elem {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => out.push(s),
                other => errors.at(
                    other,
                    format!(
                        "expected a string literal in `{key}` of {}: `{key} = [\"...\"]`",
                        self.attr
                    ),
                ),
            }
        }
        out
    }

    /// `key = [Type, ...]`: a list of types, each listed once. `example`
    /// is shown in the errors: `[ReserveInventory, TakePayment]`.
    pub(crate) fn types(
        &self,
        errors: &mut Errors,
        key: Key,
        example: &str,
    ) -> Option<Vec<syn::Type>> {
        let arg = self.get(key)?;
        let tokens = self.assigned(errors, arg, example)?;
        let attr = self.attr;
        let Some(TokenTree::Group(group)) = tokens
            .clone()
            .into_iter()
            .next()
            .filter(|_| tokens.clone().into_iter().count() == 1)
        else {
            errors.at(
                tokens,
                format!("expected a list of types for `{key}` in {attr}: `{key} = {example}`"),
            );
            return None;
        };
        if group.delimiter() != proc_macro2::Delimiter::Bracket {
            errors.at(
                tokens,
                format!(
                    "expected a list of types in `[...]` for `{key}` in {attr}: `{key} = {example}`"
                ),
            );
            return None;
        }
        let mut out: Vec<syn::Type> = Vec::new();
        let mut valid = true;
        for (chunk, _) in split_commas(group.stream()) {
            if chunk.is_empty() {
                continue;
            }
            if let Ok(text) = <LitStr as Parse>::parse.parse2(chunk.clone()) {
                errors.at(
                    text,
                    format!("`{key}` in {attr} lists types, not names: write the type, without quotes: `{key} = {example}`"),
                );
                valid = false;
                continue;
            }
            let Ok(ty) = syn::Type::parse.parse2(chunk.clone()) else {
                errors.at(
                    chunk,
                    format!("expected a type in `{key}` of {attr}: `{key} = {example}`"),
                );
                valid = false;
                continue;
            };
            let shown = crate::diagnostics::render(&ty);
            if out.iter().any(|t| crate::diagnostics::render(t) == shown) {
                errors.at(
                    &ty,
                    format!("`{shown}` is listed twice in `{key}` of {attr}"),
                );
                valid = false;
                continue;
            }
            out.push(ty);
        }
        valid.then_some(out)
    }

    /// A bare `key` flag.
    pub(crate) fn flag(&self, errors: &mut Errors, key: Key) -> Option<Span> {
        let arg = self.get(key)?;
        match &arg.value {
            Value::Flag => Some(arg.span()),
            Value::Assign(_) | Value::List(_) => {
                errors.at(
                    arg.tokens(),
                    format!(
                        "`{key}` in {} takes no value: write `{key}` alone",
                        self.attr
                    ),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[Key] = &[Key::Name, Key::Version, Key::Aliases, Key::Crate];

    fn parse_str(src: &str) -> (Args, Vec<String>) {
        let mut errors = Errors::new();
        let args = parse(&mut errors, "#[event]", src.parse().unwrap(), KEYS);
        (args, errors.messages())
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(did_you_mean("verison", KEYS), Some(Key::Version));
        assert_eq!(did_you_mean("nme", KEYS), Some(Key::Name));
        assert_eq!(did_you_mean("alias", KEYS), Some(Key::Aliases));
        assert_eq!(did_you_mean("colour", KEYS), None);
        assert_eq!(did_you_mean("x", KEYS), None);
    }

    #[test]
    fn splits_at_top_level_commas_only() {
        let (args, errors) = parse_str(r#"name = "a", aliases = ["b", "c"], version = 2,"#);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(args.complete);
        let keys: Vec<_> = args.list.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["name", "aliases", "version"]);
        let mut errors = Errors::new();
        let aliases: Vec<_> = args
            .strings(&mut errors, Key::Aliases)
            .iter()
            .map(LitStr::value)
            .collect();
        assert_eq!(aliases, ["b", "c"]);
        assert_eq!(
            args.positive_u32(&mut errors, Key::Version).map(|v| v.0),
            Some(2)
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn commas_inside_generic_arguments_do_not_split() {
        let mut errors = Errors::new();
        let args = parse(
            &mut errors,
            "#[query]",
            "result = BTreeMap<String, Vec<fn(u8) -> u8>>, name = \"q\""
                .parse()
                .unwrap(),
            &[Key::Result, Key::Name],
        );
        assert!(errors.is_empty(), "{:?}", errors.messages());
        let ty = args.ty(&mut errors, Key::Result, "T").unwrap();
        assert_eq!(
            crate::diagnostics::render(&ty),
            "BTreeMap<String, Vec<fn(u8) -> u8>>"
        );
        assert_eq!(args.string(&mut errors, Key::Name).unwrap().value(), "q");
    }

    #[test]
    fn reports_unknown_duplicate_and_malformed_arguments() {
        let (args, errors) = parse_str(r#"name = "a", verison = 2, name = "b", serde::x = 1"#);
        assert!(!args.complete);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with("unknown key `verison` in #[event]; did you mean `version`?")
        );
        assert!(errors[1].starts_with("duplicate key `name`"));
        assert!(errors[2].starts_with("unknown key `serde::x`"));

        let (args, errors) = parse_str(r#"name = "a" version = 2"#);
        let mut more = Errors::new();
        assert!(args.string(&mut more, Key::Name).is_none());
        assert!(errors.is_empty());
        assert_eq!(
            more.messages(),
            ["expected `,` after the value of `name` in #[event]"]
        );
    }

    #[test]
    fn reads_lists_of_types() {
        let read = |src: &str| {
            let mut errors = Errors::new();
            let args = parse(
                &mut errors,
                "#[saga]",
                src.parse().unwrap(),
                &[Key::Dispatches],
            );
            let types = args.types(&mut errors, Key::Dispatches, "[A, B]");
            let shown = types.map(|t| t.iter().map(crate::diagnostics::render).collect::<Vec<_>>());
            (shown, errors.messages())
        };
        assert_eq!(
            read("dispatches = [A, crate::b::B<u8>,]"),
            (Some(vec!["A".into(), "crate::b::B<u8>".into()]), vec![])
        );
        assert_eq!(read("dispatches = []"), (Some(vec![]), vec![]));
        for (src, message) in [
            (
                "dispatches = A",
                "expected a list of types for `dispatches` in #[saga]: `dispatches = [A, B]`",
            ),
            (
                "dispatches = (A, B)",
                "expected a list of types in `[...]` for `dispatches` in #[saga]: `dispatches = [A, B]`",
            ),
            (
                "dispatches = [\"A\"]",
                "`dispatches` in #[saga] lists types, not names: write the type, without quotes: `dispatches = [A, B]`",
            ),
            (
                "dispatches = [A, A]",
                "`A` is listed twice in `dispatches` of #[saga]",
            ),
        ] {
            let (types, errors) = read(src);
            assert_eq!(types, None, "{src}");
            assert_eq!(errors, [message], "{src}");
        }
    }

    #[test]
    fn checks_integer_values() {
        for (src, message) in [
            ("version = 0", "`version` in #[event] must be at least 1"),
            (
                "version = 4294967296",
                "`version` in #[event] is too large: the largest value is 4294967295",
            ),
            (
                "version = 2u8",
                "`version` in #[event] takes a plain integer, without the `u8` suffix",
            ),
            (
                "version = \"2\"",
                "expected an integer for `version` in #[event]: `version = N`",
            ),
            ("version", "expected `version = N` in #[event]"),
            ("version = -1", "`version` in #[event] must be at least 1"),
            ("version = -0", "`version` in #[event] must be at least 1"),
        ] {
            let (args, errors) = parse_str(src);
            assert!(errors.is_empty());
            let mut errors = Errors::new();
            assert!(
                args.positive_u32(&mut errors, Key::Version).is_none(),
                "{src}"
            );
            assert_eq!(errors.messages(), [message], "{src}");
        }
    }
}
