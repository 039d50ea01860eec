//! Reading an impl block or a function without parsing the bodies of its
//! functions.
//!
//! The attribute macros read the attributes and signatures of the methods
//! they are given and copy every body unchanged. Parsing a body into syntax
//! only to print it back was most of what reading an `#[aggregate_impl]`
//! block cost, paid on every build. Here each body stays the tokens it was
//! written with: a `Block` holding them as one verbatim item prints back
//! exactly as written, spans included.
//!
//! Whenever this reading fails, the item is parsed again by `syn` as a
//! whole, so a mistake is reported with `syn`'s own message and span; the
//! only difference is that a syntax error inside a body is left for the
//! compiler, which reports it where it is.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::parse::discouraged::Speculative;
use syn::parse::{ParseStream, Parser};
use syn::{
    Attribute, Block, FnModifiers, ImplItem, ImplItemFn, Item, ItemFn, ItemImpl, Signature, Stmt,
    Token, Visibility, braced, token,
};

/// `tokens` as an impl block whose methods keep their bodies unparsed.
pub(crate) fn impl_block(tokens: &TokenStream) -> syn::Result<ItemImpl> {
    read_impl_block(tokens).or_else(|_| syn::parse2(tokens.clone()))
}

/// `tokens` as an item, a function keeping its body unparsed.
pub(crate) fn item(tokens: &TokenStream) -> syn::Result<Item> {
    match function.parse2(tokens.clone()) {
        Ok(function) => Ok(Item::Fn(function)),
        Err(_) => syn::parse2(tokens.clone()),
    }
}

/// The head (`impl ... Type`) is parsed by `syn` in front of an empty body,
/// then the items of the real body one by one.
fn read_impl_block(tokens: &TokenStream) -> syn::Result<ItemImpl> {
    let mut trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let body = match trees.pop() {
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => group,
        _ => return Err(syn::Error::new(proc_macro2::Span::call_site(), "no body")),
    };
    let empty = proc_macro2::Group::new(Delimiter::Brace, TokenStream::new());
    trees.push(TokenTree::Group(empty));
    let mut item: ItemImpl = syn::parse2(trees.into_iter().collect())?;
    let (inner, items) = impl_items.parse2(body.stream())?;
    item.attrs.extend(inner);
    item.brace_token = token::Brace {
        span: body.delim_span(),
    };
    item.items = items;
    Ok(item)
}

/// The inner attributes and items of an impl block's body.
fn impl_items(input: ParseStream<'_>) -> syn::Result<(Vec<Attribute>, Vec<ImplItem>)> {
    let inner = input.call(Attribute::parse_inner)?;
    let mut items = Vec::new();
    while !input.is_empty() {
        let ahead = input.fork();
        match method(&ahead) {
            Ok(function) => {
                input.advance_to(&ahead);
                items.push(ImplItem::Fn(function));
            }
            // Anything else (constants, types, macros, a function without a
            // body) is left to `syn`.
            Err(_) => items.push(input.parse()?),
        }
    }
    Ok((inner, items))
}

/// A method with a body, read as `syn` reads it except for the body.
fn method(input: ParseStream<'_>) -> syn::Result<ImplItemFn> {
    let mut attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    let defaultness: Option<Token![default]> = input.parse()?;
    let sig: Signature = input.parse()?;
    let block = body(input, &mut attrs)?;
    let mut modifiers = FnModifiers::default();
    modifiers.defaultness = defaultness;
    Ok(ImplItemFn {
        attrs,
        vis,
        modifiers,
        sig,
        block,
    })
}

/// A free function, read as `syn` reads it except for the body.
fn function(input: ParseStream<'_>) -> syn::Result<ItemFn> {
    let mut attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    let sig: Signature = input.parse()?;
    let block = body(input, &mut attrs)?;
    Ok(ItemFn {
        attrs,
        vis,
        modifiers: FnModifiers::default(),
        sig,
        block: Box::new(block),
    })
}

/// A braced body: its inner attributes join `attrs`, as `syn` places them,
/// and the rest is kept as tokens.
fn body(input: ParseStream<'_>, attrs: &mut Vec<Attribute>) -> syn::Result<Block> {
    let content;
    let brace_token = braced!(content in input);
    attrs.extend(content.call(Attribute::parse_inner)?);
    let rest: TokenStream = content.parse()?;
    let stmts = if rest.is_empty() {
        Vec::new()
    } else {
        vec![Stmt::Item(Item::Verbatim(rest))]
    };
    Ok(Block { brace_token, stmts })
}

#[cfg(test)]
mod tests {
    use quote::{ToTokens, quote};

    /// Every body prints back as written, and the rest as `syn` reads it.
    #[test]
    fn prints_back_what_syn_reads() {
        let tokens = quote! {
            #[doc = "outer"]
            impl<T> Account<T> where T: Clone {
                #![allow(dead_code)]
                const LIMIT: i64 = { 1 + 2 };
                type Id = u64;
                fn declared();
                pub(crate) unsafe fn open(&self, x: [u8; { 3 }]) -> Result<(), E> where E: Copy {
                    #![allow(unused)]
                    let y = match x { _ => 1 };
                    Ok(())
                }
                async fn empty(&mut self) {}
                mac!();
            }
        };
        let ours = super::impl_block(&tokens).expect("an impl block");
        let theirs: syn::ItemImpl = syn::parse2(tokens.clone()).expect("an impl block");
        assert_eq!(
            ours.to_token_stream().to_string(),
            theirs.to_token_stream().to_string()
        );
        assert_eq!(ours.attrs, theirs.attrs);
        assert_eq!(ours.items.len(), theirs.items.len());
        for (a, b) in ours.items.iter().zip(&theirs.items) {
            match (a, b) {
                (syn::ImplItem::Fn(a), syn::ImplItem::Fn(b)) => {
                    assert_eq!(a.attrs, b.attrs);
                    assert_eq!(a.sig, b.sig);
                }
                (a, b) => assert_eq!(a, b),
            }
        }
    }

    /// A function prints back as written.
    #[test]
    fn free_function_prints_back() {
        let tokens = quote! {
            #[inline]
            pub fn up(mut v: Value) -> Result<Value, UpcastError> {
                #![allow(unused_mut)]
                v["x"] = 1.into();
                Ok(v)
            }
        };
        let ours = super::item(&tokens).expect("a function");
        let theirs: syn::Item = syn::parse2(tokens).expect("a function");
        assert_eq!(
            ours.to_token_stream().to_string(),
            theirs.to_token_stream().to_string()
        );
        let (syn::Item::Fn(a), syn::Item::Fn(b)) = (&ours, &theirs) else {
            panic!("both are functions");
        };
        assert_eq!(a.attrs, b.attrs);
        assert_eq!(a.sig, b.sig);
    }

    /// What `syn` cannot read is reported with `syn`'s own error.
    #[test]
    fn errors_are_syns() {
        let tokens = quote! {
            impl Echo {
                fn on(&mut self, j: &mut dyn Journal + Send) {}
            }
        };
        let ours = super::impl_block(&tokens).err().map(|e| e.to_string());
        let theirs = syn::parse2::<syn::ItemImpl>(tokens)
            .err()
            .map(|e| e.to_string());
        assert!(ours.is_some());
        assert_eq!(ours, theirs);
        let not_fn = quote!(
            struct S;
        );
        assert!(matches!(super::item(&not_fn), Ok(syn::Item::Struct(_))));
    }
}
