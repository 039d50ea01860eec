//! Validated SQL identifiers: the schema name and the notification channel.
//!
//! Both end up inside SQL text (a schema cannot be a bind parameter), so they
//! are checked against a strict pattern once, here, and always written
//! quoted. Nothing else is ever spliced into SQL.

use std::fmt;

use eventsource::StoreError;
use thiserror::Error;

/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes).
const MAX_LEN: usize = 63;

/// A name that is safe to use as a PostgreSQL identifier: lower-case ASCII
/// letters, digits and `_`, not starting with a digit, at most 63 bytes, and
/// not in the reserved `pg_` namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identifier(String);

/// A string rejected as an identifier.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("invalid {what} `{value}`: {reason}")]
pub struct InvalidIdentifier {
    /// What the name was for ("schema name", "notification channel").
    pub what: &'static str,
    /// The rejected value.
    pub value: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl From<InvalidIdentifier> for StoreError {
    fn from(err: InvalidIdentifier) -> Self {
        StoreError::invalid(err.to_string())
    }
}

impl Identifier {
    /// Checks `value` against `^[a-z_][a-z0-9_]{0,62}$` and the `pg_` prefix.
    ///
    /// `what` names the identifier in the error.
    pub fn parse(what: &'static str, value: &str) -> Result<Self, InvalidIdentifier> {
        let reject = |reason| InvalidIdentifier {
            what,
            value: value.to_owned(),
            reason,
        };
        let mut bytes = value.bytes();
        match bytes.next() {
            None => return Err(reject("it is empty")),
            Some(b'a'..=b'z' | b'_') => {}
            Some(_) => return Err(reject("it must start with a lower-case letter or `_`")),
        }
        if !bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_')) {
            return Err(reject(
                "only lower-case ASCII letters, digits and `_` are allowed",
            ));
        }
        if value.len() > MAX_LEN {
            return Err(reject("it is longer than 63 bytes"));
        }
        if value.starts_with("pg_") {
            return Err(reject("the `pg_` prefix is reserved by PostgreSQL"));
        }
        Ok(Self(value.to_owned()))
    }

    /// A name known at compile time to match the pattern (checked by a test).
    pub(crate) fn trusted(value: &'static str) -> Self {
        Self(value.to_owned())
    }

    /// The bare name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name quoted for SQL text. The pattern admits no `"`, so no escaping is needed.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }

    /// `prefix` + this name, cut to the identifier length limit.
    pub(crate) fn prefixed(&self, prefix: &str) -> Self {
        let mut name = format!("{prefix}{}", self.0);
        name.truncate(MAX_LEN);
        Self(name)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_lower_case_names() {
        for ok in ["events", "_x", "a1_b2", &"a".repeat(63)] {
            assert_eq!(Identifier::parse("schema name", ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_anything_that_would_need_escaping() {
        for bad in [
            "",
            "1abc",
            "Events",
            "a-b",
            "a b",
            "a\"b",
            "a;drop",
            "é",
            "pg_catalog",
            &"a".repeat(64),
        ] {
            let err = Identifier::parse("schema name", bad).unwrap_err();
            assert_eq!(err.value, bad);
            assert!(err.to_string().starts_with("invalid schema name"));
        }
    }

    #[test]
    fn the_default_schema_is_valid() {
        Identifier::parse("schema name", crate::options::DEFAULT_SCHEMA).unwrap();
    }

    #[test]
    fn quoting_and_prefixing() {
        let id = Identifier::parse("schema name", "shop").unwrap();
        assert_eq!(id.quoted(), "\"shop\"");
        assert_eq!(id.prefixed("es_").as_str(), "es_shop");
        let long = Identifier::parse("schema name", &"s".repeat(63)).unwrap();
        assert_eq!(long.prefixed("es_").as_str().len(), 63);
    }
}
