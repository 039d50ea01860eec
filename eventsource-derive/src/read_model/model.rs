//! A `#[read_model]` block as the expansion needs it: the read model's
//! type, the projection keeping it, and its query handlers.

use syn::{Ident, ItemImpl, LitStr, Path, Type};

pub(super) struct Model {
    pub(super) krate: Path,
    /// The block, with the handler attributes taken off.
    pub(super) item: ItemImpl,
    /// The read model's name, for its registry entries; `None` when the
    /// block cannot be expanded beyond itself.
    pub(super) ident: Option<Ident>,
    pub(super) projection: Projection,
    pub(super) handlers: Vec<Handler>,
}

/// The projection keeping the read model.
pub(super) enum Projection {
    None,
    /// `projection = Type`: that projection type's name.
    Type(Box<Type>),
    /// `projection = "name"`.
    Name(LitStr),
}

/// One `#[query_handler]` method.
pub(super) struct Handler {
    pub(super) method: Ident,
    /// The query type, `Self` replaced by the read model's type.
    pub(super) query: Type,
    pub(super) by_ref: bool,
    pub(super) asyncness: bool,
    /// `None` when it returns nothing (reported).
    pub(super) output: Option<Output>,
    /// False after a mistake in its signature: its query still gets an
    /// impl, so uses of the query do not fail too, but nothing calls it.
    pub(super) callable: bool,
}

/// What a handler returns.
pub(super) enum Output {
    /// The answer itself.
    Value(Type),
    /// `Result<T, E>` written out: the answer and the error, each checked
    /// on its own tokens.
    Result { ok: Box<Type>, error: Box<Type> },
    /// Another `...Result` type, split through a trait.
    ResultAlias(Type),
}
