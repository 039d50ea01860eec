//! Tokens shown in messages the way users write them, and the head of an
//! item where an error about the whole item points.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};

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
