//! Spans for generated code, so that the compiler reports a mistake on the
//! user's tokens rather than on the macro call.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;

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
