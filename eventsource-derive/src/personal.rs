//! `#[derive(Event)]`'s field attributes: the subject field and the personal
//! fields of crypto-shredding, parsed into a model, checked, expanded into
//! the event's `PersonalData`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Field, Fields, Ident, LitStr, Path};

use crate::attr::{self, Key};
use crate::diagnostics::Errors;

const FIELD_KEYS: &[Key] = &[Key::Subject, Key::Personal, Key::Replacement];

/// A field with an `#[event(...)]` attribute.
pub(crate) struct Marked<'a> {
    field: &'a Field,
    ident: Option<&'a Ident>,
    subject: Option<Span>,
    personal: Option<Span>,
    replacement: Option<LitStr>,
    /// Where the `replacement` key was written, for its errors.
    replacement_span: Option<Span>,
}

/// The personal data an event declares.
pub(crate) struct Personal<'a> {
    marked: Vec<Marked<'a>>,
}

/// Parses the `#[event(...)]` attributes of the fields of `input`.
pub(crate) fn parse<'a>(errors: &mut Errors, input: &'a DeriveInput) -> Personal<'a> {
    let mut marked = Vec::new();
    let fields: Vec<&Field> = match &input.data {
        Data::Struct(data) => data.fields.iter().collect(),
        Data::Enum(data) => data.variants.iter().flat_map(|v| v.fields.iter()).collect(),
        Data::Union(_) => Vec::new(),
    };
    for field in fields {
        if !field.attrs.iter().any(|a| a.path().is_ident("event")) {
            continue;
        }
        let args = attr::parse_attrs(
            errors,
            "a field's #[event]",
            &field.attrs,
            "event",
            FIELD_KEYS,
            "#[event(personal)]",
        );
        marked.push(Marked {
            field,
            ident: field.ident.as_ref(),
            // A key written with a value is reported by `flag`, and still
            // counts as written: the other checks do not cascade from it.
            subject: args
                .flag(errors, Key::Subject)
                .or_else(|| args.get(Key::Subject).map(|a| a.span())),
            personal: args
                .flag(errors, Key::Personal)
                .or_else(|| args.get(Key::Personal).map(|a| a.span())),
            replacement: args.string(errors, Key::Replacement),
            replacement_span: args.get(Key::Replacement).map(|a| a.span()),
        });
    }
    let personal = Personal { marked };
    if !check_named_struct(errors, input, &personal) {
        return personal;
    }
    check_one_subject(errors, &personal);
    check_subject_is_not_personal(errors, &personal);
    check_replacement_is_for_personal(errors, &personal);
    check_personal_has_subject(errors, &personal);
    personal
}

/// Personal data lives in the named fields of a struct: an enum's variants
/// or a tuple struct have no field names to find in the payload. Whether
/// the other checks apply.
fn check_named_struct(errors: &mut Errors, input: &DeriveInput, personal: &Personal<'_>) -> bool {
    let named = matches!(&input.data, Data::Struct(s) if matches!(s.fields, Fields::Named(_)));
    if named {
        return true;
    }
    for marked in &personal.marked {
        let span = marked
            .subject
            .or(marked.personal)
            .or(marked.replacement_span)
            .unwrap_or_else(|| marked.field.span());
        errors.at_span(
            span,
            "#[event(subject)] and #[event(personal)] apply to the named fields of a struct",
        );
    }
    false
}

fn check_one_subject(errors: &mut Errors, personal: &Personal<'_>) {
    for extra in personal.marked.iter().filter_map(|m| m.subject).skip(1) {
        errors.at_span(
            extra,
            "an event has one subject: `subject` is already on another field",
        );
    }
}

fn check_subject_is_not_personal(errors: &mut Errors, personal: &Personal<'_>) {
    for marked in &personal.marked {
        if let (Some(_), Some(span)) = (marked.subject, marked.personal) {
            errors.at_span(
                span,
                "the subject field cannot be personal: it names whose key encrypts the others",
            );
        }
    }
}

fn check_replacement_is_for_personal(errors: &mut Errors, personal: &Personal<'_>) {
    for marked in &personal.marked {
        if let (None, Some(span)) = (marked.personal, marked.replacement_span) {
            errors.at_span(
                span,
                "`replacement` applies to a personal field: write `#[event(personal, replacement = \"...\")]`",
            );
        }
    }
}

fn check_personal_has_subject(errors: &mut Errors, personal: &Personal<'_>) {
    if personal.marked.iter().any(|m| m.subject.is_some()) {
        return;
    }
    if let Some(span) = personal.marked.iter().find_map(|m| m.personal) {
        errors.at_span(
            span,
            "a personal field needs the subject whose key encrypts it: mark the field naming it `#[event(subject)]`",
        );
    }
}

/// The registration's `.with_personal(..)`, or nothing when the event has no personal fields.
pub(crate) fn expand(personal: &Personal<'_>, krate: &Path) -> Option<TokenStream> {
    let subject = personal
        .marked
        .iter()
        .find(|m| m.subject.is_some())?
        .ident?
        .to_string();
    let fields: Vec<TokenStream> = personal
        .marked
        .iter()
        .filter(|m| m.personal.is_some())
        .filter_map(|m| {
            let name = m.ident?.to_string();
            let ty = &m.field.ty;
            let replacement = match &m.replacement {
                Some(text) => quote! {
                    #krate::__private::serde_json::Value::String(
                        ::std::string::String::from(#text)
                    )
                },
                // Spanned on the type: a type without `Default` is
                // reported there.
                None => quote_spanned! {ty.span()=>
                    #krate::__private::serde_json::to_value(
                        <#ty as ::core::default::Default>::default()
                    ).unwrap_or(#krate::__private::serde_json::Value::Null)
                },
            };
            Some(quote! {
                #krate::__private::PersonalField {
                    name: #name,
                    replacement: || #replacement,
                }
            })
        })
        .collect();
    if fields.is_empty() {
        return None;
    }
    // A constant in a block of its own: two events of one module do not
    // collide, and `&PERSONAL` is a `'static` reference.
    Some(quote! {
        .with_personal({
            const PERSONAL: #krate::__private::PersonalData = #krate::__private::PersonalData {
                subject: #subject,
                fields: &[#(#fields),*],
            };
            &PERSONAL
        })
    })
}
