//! The source of the two generated crates: the same domain written with the
//! macros, and written by hand as the macros would expand it.
//!
//! Each crate has [`AGGREGATES`] aggregates in their own modules, each with
//! [`EVENTS_PER_AGGREGATE`] events (the first at version 2, with a JSON
//! upcaster), one command per event, and a handler for each.

use std::fmt::Write as _;

/// Aggregates per crate.
pub(crate) const AGGREGATES: usize = 20;

/// Events (and commands) per aggregate.
pub(crate) const EVENTS_PER_AGGREGATE: usize = 5;

/// The `Cargo.toml` of a generated crate.
pub(crate) fn manifest(package: &str, runtime: &str) -> String {
    format!(
        r#"[package]
name = "{package}"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
# The runtime is published as `eventsource-cqrs`; its library is `eventsource`.
eventsource = {{ package = "eventsource-cqrs", path = "{runtime}" }}
inventory = "0.3"
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"
"#
    )
}

/// The crate written with the macros.
pub(crate) fn with_macros() -> String {
    let mut out = header("written with the eventsource macros");
    for k in 0..AGGREGATES {
        let _ = writeln!(out, "pub mod agg{k} {{");
        out.push_str(
            "    use eventsource::prelude::*;\n    use serde::{Deserialize, Serialize};\n\n",
        );
        let _ = writeln!(
            out,
            r#"    #[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[event(name = "gen{k}.Created", version = 2)]
    pub struct Created {{ pub name: String, pub limit: i64 }}

    #[upcaster(event = "gen{k}.Created", from = 1)]
    fn created_v1(mut payload: serde_json::Value) -> Result<serde_json::Value, UpcastError> {{
        let fields = payload.as_object_mut().ok_or_else(UpcastError::not_an_object)?;
        fields.insert("limit".into(), 0.into());
        Ok(payload)
    }}

    #[derive(Command, Clone, Debug)]
    #[command(aggregate = Agg)]
    pub struct Create {{ #[aggregate_id] pub id: String, pub name: String }}
"#
        );
        for j in 1..EVENTS_PER_AGGREGATE {
            let _ = writeln!(
                out,
                r#"    #[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[event(name = "gen{k}.Changed{j}")]
    pub struct Changed{j} {{ pub value: i64, pub note: String }}

    #[derive(Command, Clone, Debug)]
    #[command(aggregate = Agg)]
    pub struct Change{j} {{ #[aggregate_id] pub id: String, pub value: i64 }}
"#
            );
        }
        out.push_str(&error_type());
        let _ = writeln!(
            out,
            r#"    #[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
    #[aggregate(name = "gen{k}.Agg", snapshot_every = 50)]
    pub struct Agg {{ pub name: String, pub limit: i64, pub total: i64, pub changes: u64 }}

    #[aggregate_impl]
    impl Agg {{
        #[command_handler(create)]
        fn create(&self, cmd: &Create) -> Created {{
            Created {{ name: cmd.name.clone(), limit: 100 }}
        }}

        #[event_sourcing_handler]
        fn on_created(&mut self, e: &Created) {{
            self.name.clone_from(&e.name);
            self.limit = e.limit;
        }}
"#
        );
        for j in 1..EVENTS_PER_AGGREGATE {
            let _ = writeln!(
                out,
                r#"        #[command_handler]
        fn change{j}(&self, cmd: &Change{j}) -> Result<Changed{j}, AggError> {{
            if self.total + cmd.value < -self.limit {{
                return Err(AggError::Negative(cmd.value));
            }}
            Ok(Changed{j} {{ value: cmd.value, note: format!("change {j}") }})
        }}

        #[event_sourcing_handler]
        fn on_changed{j}(&mut self, e: &Changed{j}) {{
            self.total += e.value * {j};
            self.changes += 1;
        }}
"#
            );
        }
        out.push_str("    }\n}\n\n");
    }
    out
}

/// The crate written by hand: the trait impls, event enum and registry
/// submissions that the macros generate, without their compile-time checks.
pub(crate) fn by_hand() -> String {
    let mut out = header("written by hand: what the macros expand to");
    for k in 0..AGGREGATES {
        let _ = writeln!(out, "pub mod agg{k} {{");
        out.push_str("    use serde::{Deserialize, Serialize};\n\n");
        let names: Vec<String> = (0..EVENTS_PER_AGGREGATE)
            .map(|j| match j {
                0 => format!("gen{k}.Created"),
                _ => format!("gen{k}.Changed{j}"),
            })
            .collect();
        let _ = writeln!(
            out,
            r#"    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Created {{ pub name: String, pub limit: i64 }}
"#
        );
        event_impls(&mut out, "Created", &names[0], 2);
        let _ = writeln!(
            out,
            r#"    fn created_v1(mut payload: serde_json::Value) -> Result<serde_json::Value, eventsource::UpcastError> {{
        let fields = payload.as_object_mut().ok_or_else(eventsource::UpcastError::not_an_object)?;
        fields.insert("limit".into(), 0.into());
        Ok(payload)
    }}

    inventory::submit! {{
        eventsource::registry::UpcasterRegistration::new(
            "{created}",
            1,
            created_v1,
            concat!(module_path!(), "::created_v1"),
        )
    }}

    #[derive(Clone, Debug)]
    pub struct Create {{ pub id: String, pub name: String }}
"#,
            created = names[0]
        );
        command_impls(&mut out, "Create", k);
        for (j, name) in names.iter().enumerate().skip(1) {
            let _ = writeln!(
                out,
                r#"    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Changed{j} {{ pub value: i64, pub note: String }}
"#
            );
            event_impls(&mut out, &format!("Changed{j}"), name, 1);
            let _ = writeln!(
                out,
                r#"    #[derive(Clone, Debug)]
    pub struct Change{j} {{ pub id: String, pub value: i64 }}
"#
            );
            command_impls(&mut out, &format!("Change{j}"), k);
        }
        out.push_str(&error_type());
        aggregate(&mut out, k, &names);
        out.push_str("}\n\n");
    }
    out
}

fn header(what: &str) -> String {
    format!(
        "//! Generated by the eventsource benchmark harness ({what}): {AGGREGATES} aggregates, \
         {} events.\n\n",
        AGGREGATES * EVENTS_PER_AGGREGATE
    )
}

fn error_type() -> String {
    r#"    #[derive(Debug, PartialEq, Eq)]
    pub enum AggError { Negative(i64) }

    impl std::fmt::Display for AggError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Self::Negative(value) => write!(f, "{value} would pass the limit"),
            }
        }
    }

"#
    .to_owned()
}

fn event_impls(out: &mut String, ty: &str, name: &str, version: u32) {
    let _ = writeln!(
        out,
        r#"    impl eventsource::Event for {ty} {{
        const NAME: &'static str = "{name}";
        const VERSION: u32 = {version};
        const ALIASES: &'static [&'static str] = &[];

        fn upcasters() -> &'static eventsource::registry::UpcasterChain {{
            static CHAIN: std::sync::OnceLock<&'static eventsource::registry::UpcasterChain> =
                std::sync::OnceLock::new();
            CHAIN.get_or_init(|| eventsource::registry::Registry::global().chain(Self::NAME))
        }}
    }}

    inventory::submit! {{
        eventsource::registry::EventRegistration::new(
            "{name}",
            {version},
            &[],
            concat!(module_path!(), "::{ty}"),
        )
    }}
"#
    );
}

fn command_impls(out: &mut String, ty: &str, k: usize) {
    let _ = writeln!(
        out,
        r#"    impl eventsource::Command for {ty} {{
        type Aggregate = Agg;
        const NAME: &'static str = concat!(module_path!(), "::{ty}");

        fn aggregate_id(&self) -> String {{
            self.id.to_string()
        }}
    }}

    inventory::submit! {{
        eventsource::registry::CommandRegistration {{
            name: concat!(module_path!(), "::{ty}"),
            rust_type: concat!(module_path!(), "::{ty}"),
            aggregate: "gen{k}.Agg",
        }}
    }}
"#
    );
}

fn aggregate(out: &mut String, k: usize, names: &[String]) {
    let variants: Vec<String> = (0..names.len())
        .map(|j| match j {
            0 => "Created".to_owned(),
            _ => format!("Changed{j}"),
        })
        .collect();
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let quoted = quoted.join(", ");
    let _ = writeln!(
        out,
        r#"    #[derive(Default, Debug, Serialize, Deserialize)]
    pub struct Agg {{ pub name: String, pub limit: i64, pub total: i64, pub changes: u64 }}

    impl eventsource::AggregateConfig for Agg {{
        const NAME: &'static str = "gen{k}.Agg";
        const SNAPSHOT_EVERY: Option<u64> = Some(50);
        const SNAPSHOT_REVISION: u64 = 1;

        fn encode_snapshot(&self) -> Option<Result<String, serde_json::Error>> {{
            Some(serde_json::to_string(self))
        }}

        fn decode_snapshot(state: &str) -> Option<Result<Self, serde_json::Error>> {{
            Some(serde_json::from_str(state))
        }}
    }}

    impl Agg {{
        fn create(&self, cmd: &Create) -> Created {{
            Created {{ name: cmd.name.clone(), limit: 100 }}
        }}

        fn on_created(&mut self, e: &Created) {{
            self.name.clone_from(&e.name);
            self.limit = e.limit;
        }}
"#
    );
    for j in 1..names.len() {
        let _ = writeln!(
            out,
            r#"        fn change{j}(&self, cmd: &Change{j}) -> Result<Changed{j}, AggError> {{
            if self.total + cmd.value < -self.limit {{
                return Err(AggError::Negative(cmd.value));
            }}
            Ok(Changed{j} {{ value: cmd.value, note: format!("change {j}") }})
        }}

        fn on_changed{j}(&mut self, e: &Changed{j}) {{
            self.total += e.value * {j};
            self.changes += 1;
        }}
"#
        );
    }
    out.push_str("    }\n\n    #[derive(Debug)]\n    pub enum AggEvent {\n");
    for v in &variants {
        let _ = writeln!(out, "        {v}({v}),");
    }
    out.push_str("    }\n\n");
    for v in &variants {
        let _ = writeln!(
            out,
            r#"    impl From<{v}> for AggEvent {{
        fn from(event: {v}) -> Self {{
            Self::{v}(event)
        }}
    }}

    impl eventsource::EventOf<AggEvent> for {v} {{}}

    impl eventsource::IntoEvents<AggEvent> for {v} {{
        fn into_events(self, out: &mut Vec<AggEvent>) {{
            out.push(AggEvent::{v}(self));
        }}
    }}
"#
        );
    }
    out.push_str(
        r#"    impl eventsource::EventOf<AggEvent> for AggEvent {}

    impl eventsource::IntoEvents<AggEvent> for AggEvent {
        fn into_events(self, out: &mut Vec<AggEvent>) {
            out.push(self);
        }
    }

"#,
    );
    let decode_arms: String = names
        .iter()
        .zip(&variants)
        .map(|(n, v)| {
            format!(
                "                \"{n}\" => eventsource::event::codec::decode_event(record).map(Self::{v}),\n"
            )
        })
        .collect();
    let encode_arms: String = variants
        .iter()
        .map(|v| {
            format!(
                "                Self::{v}(event) => eventsource::event::codec::encode_event(event),\n"
            )
        })
        .collect();
    let name_arms: String = names
        .iter()
        .zip(&variants)
        .map(|(n, v)| format!("                Self::{v}(_) => \"{n}\",\n"))
        .collect();
    let apply_arms: String = variants
        .iter()
        .enumerate()
        .map(|(j, v)| match j {
            0 => format!("                AggEvent::{v}(e) => self.on_created(e),\n"),
            _ => format!("                AggEvent::{v}(e) => self.on_changed{j}(e),\n"),
        })
        .collect();
    let _ = writeln!(
        out,
        r#"    impl eventsource::EventSet for AggEvent {{
        const NAMES: &'static [&'static str] = &[{quoted}];

        fn decode(record: &eventsource::RecordedEvent) -> Result<Self, eventsource::DecodeError> {{
            match &*record.event_name {{
{decode_arms}                _ => Err(eventsource::__private::unknown_event(record, Self::NAMES)),
            }}
        }}

        fn encode(&self) -> Result<eventsource::EncodedEvent, serde_json::Error> {{
            match self {{
{encode_arms}            }}
        }}

        fn name(&self) -> &'static str {{
            match self {{
{name_arms}            }}
        }}
    }}

    impl eventsource::Aggregate for Agg {{
        type Event = AggEvent;

        fn apply(&mut self, event: &AggEvent) {{
            match event {{
{apply_arms}            }}
        }}
    }}

    impl eventsource::Handles<Create> for Agg {{
        type Error = std::convert::Infallible;
        const POLICY: eventsource::CreationPolicy = eventsource::CreationPolicy::Create;

        fn handle(&self, command: &Create, _metadata: &eventsource::Metadata) -> Result<Vec<AggEvent>, Self::Error> {{
            Ok(vec![AggEvent::Created(self.create(command))])
        }}
    }}
"#
    );
    for j in 1..names.len() {
        let _ = writeln!(
            out,
            r#"    impl eventsource::Handles<Change{j}> for Agg {{
        type Error = AggError;
        const POLICY: eventsource::CreationPolicy = eventsource::CreationPolicy::Existing;

        fn handle(&self, command: &Change{j}, _metadata: &eventsource::Metadata) -> Result<Vec<AggEvent>, Self::Error> {{
            Ok(vec![AggEvent::Changed{j}(self.change{j}(command)?)])
        }}
    }}
"#
        );
    }
    let _ = writeln!(
        out,
        r#"    inventory::submit! {{
        eventsource::registry::AggregateRegistration {{
            name: "gen{k}.Agg",
            rust_type: concat!(module_path!(), "::Agg"),
            events: &[{quoted}],
            snapshot_every: Some(50),
        }}
    }}"#
    );
}
