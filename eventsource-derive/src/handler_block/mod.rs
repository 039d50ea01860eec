//! `#[projection]` and `#[saga]`: impl blocks whose methods each handle one
//! event type, to keep a read model or to drive a process.
//!
//! The block is parsed into a typed [model](model) (every mistake reported,
//! spanned on the user's tokens) and [expanded](expand) into the trait impl.
//! After a mistake the impl is still generated, from the handlers that could
//! be read, so that one mistake gives one error: uses of the type elsewhere
//! (`runner.start(MyProjection, backend)`) do not fail too.

mod expand;
mod model;

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::quote;
use syn::ItemImpl;

use crate::diagnostics::Errors;
use crate::diagnostics::spans::item_head;

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Projection,
    Saga,
}

impl Kind {
    /// The attribute as users write it, for messages.
    pub(super) fn attr(self) -> &'static str {
        match self {
            Self::Projection => "#[projection]",
            Self::Saga => "#[saga]",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Projection => "projection",
            Self::Saga => "saga",
        }
    }

    /// "a projection handler", for messages.
    fn handler(self) -> &'static str {
        match self {
            Self::Projection => "a projection handler",
            Self::Saga => "a saga handler",
        }
    }

    /// The handler form shown in messages.
    fn example(self) -> &'static str {
        match self {
            Self::Projection => "`async fn on_event(&mut self, e: &MyEvent)`",
            Self::Saga => "`async fn on_event(&mut self, e: &MyEvent, ctx: &mut SagaContext<'_>)`",
        }
    }
}

pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let args_tokens = args.clone();
    let args = crate::attr::parse(&mut errors, kind.attr(), args, model::KEYS);
    let item = match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(item) => item,
        Err(error) if is_impl(&item) => {
            // An impl block the compiler read, recovering from a syntax
            // error that syn cannot get past: say where syn stopped, and
            // take the markers off so they are not reported as unknown too.
            errors.at_span(
                error.span(),
                format!("{} cannot read this impl block: {error}", kind.attr()),
            );
            let errors = errors.to_compile_errors();
            let item = strip_markers(item);
            return quote!(#errors #item);
        }
        Err(_) => {
            let (attr, noun) = (kind.attr(), kind.noun());
            let example = match kind {
                Kind::Projection => "impl OrderSummary { ... }",
                Kind::Saga => "impl Fulfilment { ... }",
            };
            errors.at(
                item_head(&item),
                format!(
                    "{attr} goes on an `impl` block whose methods each handle one event: `#[{noun}(name = \"...\")] {example}`"
                ),
            );
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    let model = model::parse(&mut errors, kind, &args, &args_tokens, item);
    let expanded = expand::expand(&model, errors.is_empty());
    let errors = errors.to_compile_errors();
    quote!(#errors #expanded)
}

/// Whether `tokens` are an impl block, attributes aside.
fn is_impl(tokens: &TokenStream) -> bool {
    let mut trees = tokens.clone().into_iter().peekable();
    loop {
        match trees.next() {
            Some(TokenTree::Punct(p)) if p.as_char() == '#' => {
                trees.next();
            }
            Some(TokenTree::Ident(ident)) if ident == "unsafe" || ident == "default" => {}
            Some(TokenTree::Ident(ident)) => return ident == "impl",
            _ => return false,
        }
    }
}

/// `tokens` without the `#[reset]` and `#[start]` markers in the impl body.
fn strip_markers(tokens: TokenStream) -> TokenStream {
    fn is_marker(tree: Option<&TokenTree>) -> bool {
        let Some(TokenTree::Group(group)) = tree else {
            return false;
        };
        let first = group.stream().into_iter().next();
        group.delimiter() == Delimiter::Bracket
            && matches!(first, Some(TokenTree::Ident(i)) if i == "reset" || i == "start")
    }
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(body) if body.delimiter() == Delimiter::Brace => {
                let mut kept = Vec::new();
                let mut trees = body.stream().into_iter().peekable();
                while let Some(tree) = trees.next() {
                    if matches!(&tree, TokenTree::Punct(p) if p.as_char() == '#')
                        && is_marker(trees.peek())
                    {
                        trees.next();
                        continue;
                    }
                    kept.push(tree);
                }
                let mut group = Group::new(Delimiter::Brace, kept.into_iter().collect());
                group.set_span(body.span());
                TokenTree::Group(group)
            }
            other => other,
        })
        .collect()
}
