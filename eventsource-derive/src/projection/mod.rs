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

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

use crate::common::item_head;
use crate::errors::Errors;

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
    let args = crate::args::parse(&mut errors, kind.attr(), args, model::KEYS);
    let item = match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(item) => item,
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
