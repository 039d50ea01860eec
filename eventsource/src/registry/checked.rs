//! The checked, indexed registry, and what it answers.

use std::sync::OnceLock;

use serde_json::Value;

use super::entries::{EventRegistration, RegistryParts, UpcasterRegistration};
use super::problems::RegistryReport;
use super::table;
use super::validate::{self, Index};
use crate::event::DecodeErrorKind;
use crate::upcast::UpcasterChain;

/// The checked, indexed registry.
#[derive(Debug)]
pub struct Registry {
    parts: RegistryParts,
    index: Index,
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

impl Registry {
    /// The registry of this program, built on first use.
    pub fn global() -> &'static Registry {
        GLOBAL.get_or_init(|| Registry::build(RegistryParts::from_inventory()))
    }

    /// Builds a registry from explicit parts (useful in tests and tools).
    pub fn build(mut parts: RegistryParts) -> Registry {
        let index = validate::index(&mut parts);
        Registry { parts, index }
    }

    /// `Ok` when consistent, else every problem found.
    pub fn validate(&self) -> Result<(), RegistryReport> {
        if self.index.problems.is_empty() {
            Ok(())
        } else {
            Err(RegistryReport {
                problems: self.index.problems.clone(),
            })
        }
    }

    /// The registered events, by name.
    pub fn events(&self) -> impl Iterator<Item = &EventRegistration> {
        self.index.events.values()
    }

    /// The event stored under `name`, which may be an alias.
    pub fn event(&self, name: &str) -> Option<&EventRegistration> {
        self.index
            .names
            .get(name)
            .and_then(|canonical| self.index.events.get(canonical))
    }

    /// The upcasters, sorted by event and version.
    pub fn upcasters(&self) -> impl Iterator<Item = &UpcasterRegistration> {
        self.index.upcasters.values().flat_map(UpcasterChain::steps)
    }

    /// Everything the registry was built from.
    pub fn parts(&self) -> &RegistryParts {
        &self.parts
    }

    /// The upcasters of event `event` (its current name); an empty chain
    /// for an event without any.
    pub fn chain(&self, event: &str) -> &UpcasterChain {
        self.index
            .upcasters
            .get(event)
            .unwrap_or(&crate::upcast::chain::EMPTY)
    }

    /// Lifts `payload` of event `event` (its current name) from version `from` to `to`,
    /// one step at a time.
    pub fn upcast(
        &self,
        event: &str,
        from: u32,
        to: u32,
        payload: Value,
    ) -> Result<Value, DecodeErrorKind> {
        self.chain(event).upcast(from, to, payload)
    }

    /// A readable table of everything registered, for diagnostics.
    pub fn table(&self) -> String {
        table::render(
            &self.parts,
            self.events(),
            self.upcasters(),
            self.validate().err(),
        )
    }
}
