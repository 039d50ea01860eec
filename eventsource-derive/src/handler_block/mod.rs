//! What `#[projection]` and `#[saga]` share: impl blocks whose methods each
//! handle one event type. Each kind's words and rules are data
//! ([`kind`]); its trait impl is built in the module named for it.
//!
//! The block is parsed into a typed [model](model) (every mistake reported,
//! spanned on the user's tokens) and [expanded](expand) into the trait impl.
//! After a mistake the impl is still generated, from the handlers that could
//! be read, so that one mistake gives one error: uses of the type elsewhere
//! (`runner.start(MyProjection, backend).await`) do not fail too.

pub(crate) mod expand;
pub(crate) mod kind;
pub(crate) mod model;

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use quote::quote;

use crate::diagnostics::{Errors, item_head};
use crate::unparsed_bodies;
use expand::TraitImpl;
use kind::BlockKind;
use model::Model;

/// Reads the block `kind` is on into its model, reporting every mistake in
/// `errors`; `Err` holds the tokens to emit instead when it is no impl
/// block that can be read (after its mistake was reported).
pub(crate) fn read(
    errors: &mut Errors,
    kind: &'static BlockKind,
    args: TokenStream,
    item: TokenStream,
) -> Result<Model, TokenStream> {
    let args_tokens = args.clone();
    let args = crate::attr::parse(errors, kind.attr, args, kind.keys);
    let item = match unparsed_bodies::impl_block(&item) {
        Ok(item) => item,
        Err(error) if is_impl(&item) => {
            // An impl block the compiler read, recovering from a syntax
            // error that syn cannot get past: say where syn stopped, and
            // take the markers off so they are not reported as unknown too.
            errors.at_span(
                error.span(),
                format!("{} cannot read this impl block: {error}", kind.attr),
            );
            return Err(strip_markers(item));
        }
        Err(_) => {
            let (attr, noun, example) = (kind.attr, kind.noun, kind.item_example);
            errors.at(
                item_head(&item),
                format!(
                    "{attr} goes on an `impl` block whose methods each handle one event: `#[{noun}(name = \"...\")] {example}`"
                ),
            );
            return Err(item);
        }
    };
    Ok(model::parse(errors, kind, &args, &args_tokens, item))
}

/// Reads the block and expands it with the kind's trait impl: after a
/// mistake the impl is still generated, from what could be read.
pub(crate) fn attribute(
    kind: &'static BlockKind,
    trait_impl: TraitImpl,
    args: TokenStream,
    item: TokenStream,
) -> TokenStream {
    let mut errors = Errors::new();
    let expanded = match read(&mut errors, kind, args, item) {
        Ok(model) => expand::expand(&model, errors.is_empty(), trait_impl),
        Err(item) => item,
    };
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

/// `tokens` without the `#[reset]`, `#[retire]` and `#[start]` markers in
/// the impl body.
fn strip_markers(tokens: TokenStream) -> TokenStream {
    fn is_marker(tree: Option<&TokenTree>) -> bool {
        let Some(TokenTree::Group(group)) = tree else {
            return false;
        };
        let first = group.stream().into_iter().next();
        group.delimiter() == Delimiter::Bracket
            && matches!(first, Some(TokenTree::Ident(i)) if i == "reset" || i == "retire" || i == "start")
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
