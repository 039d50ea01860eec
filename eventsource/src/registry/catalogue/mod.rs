//! The event catalogue: for every event, its name, current version,
//! aliases, upcaster chain, a JSON Schema per version it knows of, the
//! aggregates that emit it and the projections and sagas that handle it.
//!
//! The current version's schema comes from the type
//! ([`EventSchema`](crate::event::EventSchema), through `schemars`); an older
//! version's from the input type of the typed upcaster that lifts it, when
//! that type has one. A version known only as JSON has no schema here.
//!
//! It renders as Markdown ([`Catalogue::to_markdown`]) and as JSON (it is
//! `Serialize`). An AsyncAPI document is not produced: the framework has no
//! relay publishing events to a broker yet, so there are no channels to
//! describe.
//!
//! ```
//! use eventsource::registry::{Catalogue, Registry};
//!
//! let catalogue = Catalogue::of(Registry::global());
//! assert!(catalogue.to_markdown().starts_with("# Event catalogue"));
//! ```

mod entries;
mod markdown;

pub use entries::{Catalogue, CatalogueEntry, SchemaSource, VersionSchema};
