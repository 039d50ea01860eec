//! The one SQL type of the crate, and the one place a schema enters SQL.
//!
//! Every statement is written whole, as a template, next to the code that
//! binds its parameters. [`Sql::new`] turns a template into the statement
//! of one store: it puts the store's schema, validated and quoted (see
//! [`Identifier`]), where the template says `{schema}`, and the position
//! constants where it says `{slots}` or `{max_events}`. Nothing else is
//! ever spliced in: every value travels as a bind parameter. The text is
//! shared (`Arc<str>`), so handing it to sqlx costs a reference count, and
//! sqlx caches the prepared statement per connection by its text.

use std::sync::Arc;

use sqlx::AssertSqlSafe;

use crate::positions::{MAX_EVENTS_PER_TRANSACTION, SLOTS};
use crate::schema::Identifier;
use crate::scope::SESSION_TENANT;

/// A statement of one store.
#[derive(Clone, Debug)]
pub(crate) struct Sql(Arc<str>);

impl Sql {
    /// `template` for the tables under `schema`.
    pub(crate) fn new(template: &str, schema: &Identifier) -> Self {
        Self::spliced(template, schema, "")
    }

    /// `template` for the tables under `schema`, with the conditions `filter`
    /// (fixed fragments chosen by code) where it says `{filter}`.
    pub(crate) fn with_filter(template: &str, schema: &Identifier, filter: &str) -> Self {
        Self::spliced(template, schema, filter)
    }

    /// A read model's `template` (a `'static` text, so nothing known only
    /// at run time can reach it): its tables under `schema`, the
    /// projection's version where it says `{version}`, and the session's
    /// tenant (an SQL expression) where it says `{tenant}`.
    pub(crate) fn read_model(template: &'static str, schema: &Identifier, version: u32) -> Self {
        let text = template
            .replace("{schema}", &schema.quoted())
            .replace("{version}", &version.to_string())
            .replace("{tenant}", SESSION_TENANT);
        Self(text.into())
    }

    fn spliced(template: &str, schema: &Identifier, filter: &str) -> Self {
        let text = template
            .replace("{schema}", &schema.quoted())
            .replace("{slots}", &SLOTS.to_string())
            .replace("{max_events}", &MAX_EVENTS_PER_TRANSACTION.to_string())
            .replace("{filter}", filter);
        Self(text.into())
    }

    /// The text as sqlx wants it. Safe: built only from a template, the
    /// constants and a validated identifier.
    pub(crate) fn get(&self) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(self.0.clone())
    }

    /// The text.
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}
