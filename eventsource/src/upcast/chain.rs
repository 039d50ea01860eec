//! The upcasters of one event, by the version each lifts from.

use std::collections::BTreeMap;

use serde_json::Value;

use super::typed::TypedUpcast;
use crate::event::DecodeErrorKind;
use crate::registry::UpcasterRegistration;

/// The upcasters of one event, by the version each lifts from.
#[derive(Clone, Debug, Default)]
pub struct UpcasterChain {
    steps: BTreeMap<u32, UpcasterRegistration>,
    /// The last step's version and typed hand-over, when it has one: the
    /// step a record one version behind takes, looked up for every such
    /// record a load decodes, so kept out of the map.
    last_typed: Option<(u32, TypedUpcast)>,
}

/// The chain of an event without upcasters.
pub(crate) static EMPTY: UpcasterChain = UpcasterChain {
    steps: BTreeMap::new(),
    last_typed: None,
};

impl UpcasterChain {
    /// Adds `step` unless the chain has one from its version already (the
    /// registry reports such duplicates).
    pub(crate) fn add(&mut self, step: UpcasterRegistration) {
        self.steps.entry(step.from).or_insert(step);
        self.last_typed = self
            .steps
            .last_key_value()
            .and_then(|(&from, last)| Some((from, last.typed?)));
    }

    /// The upcaster from version `from`, if any.
    pub fn step(&self, from: u32) -> Option<&UpcasterRegistration> {
        self.steps.get(&from)
    }

    /// The upcasters, by version.
    pub fn steps(&self) -> impl Iterator<Item = &UpcasterRegistration> {
        self.steps.values()
    }

    /// The typed hand-over of the upcaster from version `from`, if that
    /// upcaster returns a typed struct.
    #[doc(hidden)]
    #[inline]
    pub fn typed(&self, from: u32) -> Option<TypedUpcast> {
        match self.last_typed {
            Some((last, typed)) if last == from => Some(typed),
            _ => self.steps.get(&from)?.typed,
        }
    }

    /// Lifts `payload` from version `from` to `to`, one step at a time.
    pub fn upcast(&self, from: u32, to: u32, payload: Value) -> Result<Value, DecodeErrorKind> {
        self.upcast_towards(from, to, to, payload)
    }

    /// Lifts `payload` from version `from` to `to`, on the way to the event's
    /// `current` version: a typed last step may take it the rest of the way,
    /// and a missing step names the version the code knows, not `to`.
    pub(crate) fn upcast_towards(
        &self,
        from: u32,
        to: u32,
        current: u32,
        mut payload: Value,
    ) -> Result<Value, DecodeErrorKind> {
        for version in from..to {
            let step = self
                .steps
                .get(&version)
                .ok_or(DecodeErrorKind::MissingUpcaster {
                    from: version,
                    current,
                })?;
            payload = (step.upcast)(payload).map_err(|source| DecodeErrorKind::Upcast {
                from: version,
                source,
            })?;
        }
        Ok(payload)
    }
}
