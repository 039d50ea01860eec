//! Checks and snippets shared by several macros.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::{Generics, LitStr, Path};

use crate::attr::Args;
use crate::diagnostics::Errors;

/// The runtime crate's path: `crate = path` or `::eventsource`.
pub(crate) fn runtime_path(errors: &mut Errors, args: &Args) -> Path {
    args.path(errors, "crate", "::eventsource")
        .unwrap_or_else(|| syn::parse_quote!(::eventsource))
}

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

/// `"module::path::Name"`, computed where the code is expanded.
pub(crate) fn rust_path(ident: &syn::Ident) -> TokenStream {
    quote!(::core::concat!(
        ::core::module_path!(),
        "::",
        ::core::stringify!(#ident)
    ))
}

/// The head of an item, where an error about the item as a whole points:
/// `struct Account`, `fn up`, or else its first token.
pub(crate) fn item_head(tokens: &TokenStream) -> TokenStream {
    use syn::Item;
    fn head(keyword: &dyn ToTokens, ident: &syn::Ident) -> TokenStream {
        quote!(#keyword #ident)
    }
    match syn::parse2::<Item>(tokens.clone()) {
        Ok(Item::Struct(s)) => head(&s.struct_token, &s.ident),
        Ok(Item::Enum(e)) => head(&e.enum_token, &e.ident),
        Ok(Item::Union(u)) => head(&u.union_token, &u.ident),
        Ok(Item::Fn(f)) => head(&f.sig.fn_token, &f.sig.ident),
        Ok(Item::Trait(t)) => head(&t.trait_token, &t.ident),
        Ok(Item::Mod(m)) => head(&m.mod_token, &m.ident),
        Ok(Item::Const(c)) => head(&c.const_token, &c.ident),
        Ok(Item::Static(s)) => head(&s.static_token, &s.ident),
        Ok(Item::Type(t)) => head(&t.type_token, &t.ident),
        _ => tokens.clone().into_iter().take(1).collect(),
    }
}

/// Renders tokens the way a user writes them (`a::B<C>`, not `a :: B < C >`),
/// for messages.
pub(crate) fn render<T: ToTokens>(tokens: &T) -> String {
    let mut out = String::new();
    render_into(&mut out, tokens.to_token_stream());
    out.replace("->", " -> ")
}

fn render_into(out: &mut String, tokens: TokenStream) {
    let mut prev_word = false;
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => {
                if prev_word {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                prev_word = true;
            }
            TokenTree::Literal(lit) => {
                if prev_word {
                    out.push(' ');
                }
                out.push_str(&lit.to_string());
                prev_word = true;
            }
            TokenTree::Punct(punct) => {
                let c = punct.as_char();
                match c {
                    ',' => out.push_str(", "),
                    ';' => out.push_str("; "),
                    '=' if punct.spacing() == proc_macro2::Spacing::Alone => out.push_str(" = "),
                    _ => out.push(c),
                }
                // `dyn Trait + Send`, `impl A + B`.
                if c == '+' {
                    out.insert(out.len() - 1, ' ');
                    out.push(' ');
                }
                prev_word = false;
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Brace => ("{", "}"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push_str(open);
                render_into(out, group.stream());
                out.push_str(close);
                prev_word = false;
            }
        }
    }
}

/// The spans of the first and the last token of `tokens`, so generated code
/// can be made to cover exactly the user's tokens (stable proc macros cannot
/// join spans, but rustc spans an expression from its first to its last token).
pub(crate) fn first_last_spans<T: ToTokens>(tokens: &T) -> (Span, Span) {
    let mut iter = tokens.to_token_stream().into_iter();
    let first = iter.next().map_or_else(Span::call_site, |t| t.span());
    let last = iter.last().map_or(first, |t| t.span());
    (first, last)
}

/// `tokens` with every token (and every token of every group) at `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => {
                let mut new =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                TokenTree::Group(new)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// `tokens` spanned from `first` to `last`: every token at `first` but the
/// last one, so the expression they form covers the user's source range.
pub(crate) fn spanned_range(tokens: TokenStream, first: Span, last: Span) -> TokenStream {
    let mut trees: Vec<TokenTree> = respan(tokens, first).into_iter().collect();
    if let Some(tree) = trees.last_mut() {
        tree.set_span(last);
    }
    trees.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn renders_types_as_written() {
        for src in [
            "legacy::Deposited",
            "Result<Vec<Deposited>, BankError>",
            "&'static str",
            "(A, B)",
            "[Deposited; 2]",
            "dyn Ledger + Send",
            "&mut Deposit",
            "fn(Value) -> Value",
        ] {
            let ty: syn::Type = syn::parse_str(src).unwrap();
            assert_eq!(render(&ty), src);
        }
    }
}
