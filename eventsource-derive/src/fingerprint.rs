//! A stable fingerprint of a type's shape, used as the default snapshot revision.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, Data, DeriveInput, Fields};

/// FNV-1a over the tokens of the fields and their (non-doc) attributes.
///
/// Built from the tokens themselves rather than their rendering, which may
/// change between compiler versions. Masked to 63 bits so it fits a signed
/// 64-bit column.
pub(crate) fn shape(input: &DeriveInput) -> u64 {
    let mut hasher = Fnv::new();
    attrs(&mut hasher, &input.attrs);
    match &input.data {
        Data::Struct(data) => fields(&mut hasher, &data.fields),
        Data::Enum(data) => {
            for variant in &data.variants {
                hasher.write(b"variant:");
                hasher.write(variant.ident.to_string().as_bytes());
                attrs(&mut hasher, &variant.attrs);
                fields(&mut hasher, &variant.fields);
            }
        }
        Data::Union(data) => fields(&mut hasher, &Fields::Named(data.fields.clone())),
    }
    hasher.finish() & (u64::MAX >> 1)
}

fn attrs(hasher: &mut Fnv, attrs: &[Attribute]) {
    for attr in attrs.iter().filter(|a| !a.path().is_ident("doc")) {
        tokens(hasher, attr.to_token_stream());
    }
}

fn fields(hasher: &mut Fnv, fields: &Fields) {
    for (i, field) in fields.iter().enumerate() {
        hasher.write(b"field:");
        match &field.ident {
            Some(ident) => hasher.write(ident.to_string().as_bytes()),
            None => hasher.write(i.to_string().as_bytes()),
        }
        attrs(hasher, &field.attrs);
        tokens(hasher, field.ty.to_token_stream());
    }
}

fn tokens(hasher: &mut Fnv, stream: TokenStream) {
    for tree in stream {
        match tree {
            TokenTree::Ident(ident) => {
                hasher.write(b" ");
                hasher.write(ident.to_string().as_bytes());
            }
            TokenTree::Punct(punct) => {
                let mut buf = [0u8; 4];
                hasher.write(punct.as_char().encode_utf8(&mut buf).as_bytes());
            }
            TokenTree::Literal(lit) => {
                hasher.write(b" ");
                hasher.write(lit.to_string().as_bytes());
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => (b"(", b")"),
                    Delimiter::Brace => (b"{", b"}"),
                    Delimiter::Bracket => (b"[", b"]"),
                    Delimiter::None => (b" ", b" "),
                };
                hasher.write(open);
                tokens(hasher, group.stream());
                hasher.write(close);
            }
        }
    }
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::shape;

    fn of(src: &str) -> u64 {
        shape(&syn::parse_str(src).unwrap())
    }

    #[test]
    fn ignores_docs_and_layout() {
        assert_eq!(
            of("struct A { b: i64, c: Vec<String> }"),
            of("/// docs\nstruct A {\n  /// more\n  b : i64,\n  c: Vec< String >,\n}"),
        );
    }

    #[test]
    fn changes_with_fields_types_and_serde_attributes() {
        let base = of("struct A { b: i64 }");
        assert_ne!(base, of("struct A { c: i64 }"));
        assert_ne!(base, of("struct A { b: u64 }"));
        assert_ne!(base, of("struct A { #[serde(rename = \"x\")] b: i64 }"));
        assert_ne!(
            base,
            of("#[serde(rename_all = \"camelCase\")] struct A { b: i64 }")
        );
        assert!(base <= i64::MAX as u64);
    }
}
