//! Tenant ids: their shape, the metadata header that carries them, and
//! why one is refused. Shared by both models of multi-tenancy, schema per
//! tenant (`tenants.rs`) and conjoined (`conjoined.rs`).

use thiserror::Error;

/// The metadata header that names a command's (and its events') tenant.
pub const TENANT_HEADER: &str = "tenant";

/// The longest tenant id: with a prefix, the schema name must fit in 63 bytes.
const MAX_TENANT_LEN: usize = 40;

/// A validated tenant id: lower-case ASCII letters, digits and `_`,
/// starting with a letter, at most 40 bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(String);

/// Why a tenant id, prefix or command was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TenantError {
    /// The id does not have the tenant id's shape.
    #[error("invalid tenant id `{value}`: {reason}")]
    InvalidId {
        /// The rejected value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// The schema prefix is not a valid identifier start.
    #[error(
        "invalid tenant schema prefix `{0}`: lower-case letters, digits and `_`, starting with a letter, at most 20 bytes"
    )]
    InvalidPrefix(String),
    /// The metadata names no tenant.
    #[error("the command's metadata names no tenant (header `{TENANT_HEADER}`)")]
    Missing,
    /// The metadata names another tenant than the bus serves.
    #[error("the command is for tenant `{claimed}`, but this bus serves tenant `{serves}`")]
    OtherTenant {
        /// The tenant the metadata names.
        claimed: String,
        /// The tenant of the bus.
        serves: String,
    },
}

impl TenantId {
    /// Checks `value` against the tenant id's shape.
    pub fn parse(value: &str) -> Result<Self, TenantError> {
        let reject = |reason| TenantError::InvalidId {
            value: value.to_owned(),
            reason,
        };
        let mut bytes = value.bytes();
        match bytes.next() {
            None => return Err(reject("it is empty")),
            Some(b'a'..=b'z') => {}
            Some(_) => return Err(reject("it must start with a lower-case letter")),
        }
        if !bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_')) {
            return Err(reject(
                "only lower-case ASCII letters, digits and `_` are allowed",
            ));
        }
        if value.len() > MAX_TENANT_LEN {
            return Err(reject("it is longer than 40 bytes"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
