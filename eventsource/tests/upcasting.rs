//! Schema evolution: upcaster chains and aliases on every read path.

use eventsource::DecodeErrorKind;
use eventsource::Registry;
use eventsource::event::codec::{decode_event, decode_with};
use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::registry::{EventRegistration, RegistryParts};
use eventsource::store::SubscriptionItem;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Version 3. v1 stored `amount` in units as a float; v2 moved to cents and
/// added `trail`; v3 added `currency`. Each upcaster appends its step to
/// `trail`, so the order the chain ran in is visible.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "test.Priced", version = 3, aliases = ["test.Costed"])]
struct Priced {
    amount_cents: i64,
    currency: String,
    trail: String,
}

#[upcaster(event = "test.Priced", from = 1)]
fn priced_v1(v1: Value) -> Result<Value, UpcastError> {
    let amount = v1["amount"]
        .as_f64()
        .ok_or_else(|| UpcastError::missing_field("amount"))?;
    if amount < 0.0 {
        return Err(UpcastError::new("negative amount"));
    }
    Ok(json!({ "amount_cents": (amount * 100.0).round() as i64, "trail": "1" }))
}

#[derive(Deserialize)]
struct PricedV2 {
    amount_cents: i64,
    trail: String,
}

#[upcaster(event = "test.Priced", from = 2)]
fn priced_v2(old: PricedV2) -> Priced {
    Priced {
        amount_cents: old.amount_cents,
        currency: "EUR".into(),
        trail: old.trail + "2",
    }
}

/// Version 2: `level` became a bounded number; a typed, fallible upcaster.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "test.Leveled", version = 2)]
struct Leveled {
    level: u8,
}

#[derive(Deserialize)]
struct LeveledV1 {
    level: i64,
}

#[upcaster(event = "test.Leveled", from = 1)]
fn leveled_v1(old: LeveledV1) -> Result<Leveled, UpcastError> {
    u8::try_from(old.level)
        .map(|level| Leveled { level })
        .map_err(|e| UpcastError::with_source("level out of range", e))
}

#[derive(Command)]
#[command(aggregate = Till)]
struct Ring {
    #[aggregate_id]
    id: String,
    cents: i64,
}

#[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
#[aggregate(name = "test.Till", snapshot_every = 2)]
struct Till {
    seen: Vec<(i64, String, String)>,
    level: u8,
}

#[aggregate_impl]
impl Till {
    #[command_handler(create_if_missing)]
    fn ring(&self, cmd: &Ring) -> Priced {
        Priced {
            amount_cents: cmd.cents,
            currency: "EUR".into(),
            trail: "new".into(),
        }
    }

    #[event_sourcing_handler]
    fn on_priced(&mut self, e: &Priced) {
        self.seen
            .push((e.amount_cents, e.currency.clone(), e.trail.clone()));
    }

    #[event_sourcing_handler]
    fn on_leveled(&mut self, e: &Leveled) {
        self.level = e.level;
    }
}

fn old(name: &str, version: u32, payload: Value) -> NewEvent {
    NewEvent::new(name, version, payload.to_string(), Metadata::new())
}

/// Records of `test.Priced` at versions 1, 2 and 3, and one under its alias.
fn mixed_history() -> Vec<NewEvent> {
    vec![
        old("test.Priced", 1, json!({ "amount": 12.5 })),
        old(
            "test.Priced",
            2,
            json!({ "amount_cents": 700, "trail": "x" }),
        ),
        old(
            "test.Priced",
            3,
            json!({ "amount_cents": 5, "currency": "USD", "trail": "z" }),
        ),
        old("test.Costed", 1, json!({ "amount": 1 })),
        old("test.Leveled", 1, json!({ "level": 7 })),
    ]
}

fn expected_seen() -> Vec<(i64, String, String)> {
    vec![
        (1250, "EUR".into(), "12".into()),
        (700, "EUR".into(), "x2".into()),
        (5, "USD".into(), "z".into()),
        (100, "EUR".into(), "12".into()),
    ]
}

async fn store_with_history(id: &str) -> InMemoryStore {
    let store = InMemoryStore::new();
    store
        .append(
            &Till::stream_id(id),
            Till::NAME,
            ExpectedVersion::NoStream,
            mixed_history(),
        )
        .await
        .unwrap();
    store
}

#[test]
fn the_registry_is_valid_and_lists_the_chain() {
    eventsource::testing::assert_registry_valid();
    let registry = Registry::global();
    let priced = registry.event("test.Costed").expect("found by alias");
    assert_eq!(priced.name, "test.Priced");
    assert_eq!(priced.version, 3);
    let steps: Vec<(u32, &str)> = registry
        .upcasters()
        .filter(|u| u.event == "test.Priced")
        .map(|u| (u.from, u.function))
        .collect();
    assert_eq!(
        steps,
        [(1, "upcasting::priced_v1"), (2, "upcasting::priced_v2")]
    );
    let table = registry.table();
    assert!(
        table.contains("test.Priced") && table.contains("1 -> 2"),
        "{table}"
    );
}

#[tokio::test]
async fn a_stream_of_mixed_versions_loads_into_the_current_type() {
    let store = store_with_history("mixed").await;
    let repo = Repository::<Till>::new(store).unwrap();
    let till = repo.load("mixed").await.unwrap().unwrap();
    assert_eq!(till.state.seen, expected_seen());
    assert_eq!(till.state.level, 7);
}

#[tokio::test]
async fn snapshots_then_an_old_tail_upcast_too() {
    let store = InMemoryStore::new();
    let repo = Repository::<Till>::new(store.clone())
        .unwrap()
        .with_snapshots(store.clone());
    repo.execute(Ring {
        id: "snap".into(),
        cents: 1,
    })
    .await
    .unwrap();
    let done = repo
        .execute(Ring {
            id: "snap".into(),
            cents: 2,
        })
        .await
        .unwrap();
    assert!(done.snapshot_saved);
    store
        .append(
            &Till::stream_id("snap"),
            Till::NAME,
            ExpectedVersion::Exact(2),
            vec![old("test.Priced", 1, json!({ "amount": 0.03 }))],
        )
        .await
        .unwrap();
    let till = repo.load("snap").await.unwrap().unwrap();
    assert_eq!(till.snapshot_version, Some(2));
    assert_eq!(till.events_applied, 1);
    assert_eq!(
        till.state.seen.last().unwrap(),
        &(3, "EUR".into(), "12".into())
    );
}

#[tokio::test]
async fn global_reads_and_subscriptions_upcast() {
    let store = store_with_history("global").await;
    let records: Vec<RecordedEvent> = store
        .read_all(
            1,
            EventFilter::all().with_event_names(["test.Priced", "test.Costed"]),
        )
        .try_collect()
        .await
        .unwrap();
    let decoded: Vec<Priced> = records
        .iter()
        .map(|r| decode_event::<Priced>(r).unwrap())
        .collect();
    let seen: Vec<_> = decoded
        .into_iter()
        .map(|p| (p.amount_cents, p.currency, p.trail))
        .collect();
    assert_eq!(seen, expected_seen());

    let mut live = store.subscribe(1, EventFilter::all());
    let mut decoded = Vec::new();
    while let Some(item) = live.next().await {
        match item.unwrap() {
            SubscriptionItem::Event(record) => {
                decoded.push(<Till as Aggregate>::Event::decode(&record).unwrap());
            }
            SubscriptionItem::CaughtUp { .. } => break,
            other => panic!("unexpected item: {other:?}"),
        }
    }
    assert_eq!(decoded.len(), 5);
}

fn record(name: &str, version: u32, payload: Value) -> RecordedEvent {
    RecordedEvent {
        event_id: eventsource::uuid::Uuid::now_v7(),
        stream_id: "s-1".into(),
        aggregate_type: "test.Till".into(),
        stream_version: 4,
        global_position: 40,
        event_name: name.into(),
        schema_version: version,
        payload: payload.to_string().into(),
        metadata: Metadata::new().into(),
        recorded_at: eventsource::chrono::Utc::now(),
    }
}

#[test]
fn decoding_failures_are_typed_and_name_the_record() {
    type Check = fn(&DecodeErrorKind) -> bool;
    let cases: Vec<(RecordedEvent, Check)> = vec![
        (
            record("test.Priced", 1, json!({ "amount": -1.0 })),
            |k| matches!(k, DecodeErrorKind::Upcast { from: 1, source } if source.message() == "negative amount"),
        ),
        (record("test.Priced", 1, json!({ "sum": 1 })), |k| {
            matches!(k, DecodeErrorKind::Upcast { from: 1, .. })
        }),
        (record("test.Priced", 4, json!({})), |k| {
            matches!(k, DecodeErrorKind::NewerVersion { current: 3 })
        }),
        (
            record("test.Priced", 3, json!({ "amount_cents": "many" })),
            |k| matches!(k, DecodeErrorKind::Payload(_)),
        ),
        (record("test.Leveled", 1, json!({ "level": 300 })), |k| {
            matches!(k, DecodeErrorKind::Upcast { from: 1, .. })
        }),
        (record("test.Leveled", 1, json!({ "level": "high" })), |k| {
            matches!(k, DecodeErrorKind::Upcast { from: 1, .. })
        }),
        (
            record("test.Nope", 1, json!({})),
            |k| matches!(k, DecodeErrorKind::UnknownEvent { known } if known.contains(&"test.Priced")),
        ),
    ];
    for (record, check) in cases {
        let err = <Till as Aggregate>::Event::decode(&record).unwrap_err();
        assert!(check(&err.kind), "unexpected kind: {err}");
        assert_eq!(&*err.stream_id, "s-1");
        assert_eq!(err.stream_version, 4);
        assert_eq!(err.global_position, 40);
        assert_eq!(&*err.event_name, &*record.event_name);
        let text = err.to_string();
        assert!(
            text.contains("s-1") && text.contains("40") && text.contains(&*record.event_name),
            "{text}"
        );
    }
}

#[test]
fn a_broken_chain_is_a_missing_upcaster_error() {
    // A registry that knows the event but none of its upcasters.
    let registry = Registry::build(RegistryParts {
        events: vec![EventRegistration::new(
            "test.Priced",
            3,
            &[],
            "upcasting::Priced",
        )],
        ..RegistryParts::default()
    });
    let err = decode_with::<Priced>(&record("test.Priced", 1, json!({ "amount": 1 })), &registry)
        .unwrap_err();
    assert!(
        matches!(
            err.kind,
            DecodeErrorKind::MissingUpcaster {
                from: 1,
                current: 3
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("no upcaster from version 1"),
        "{err}"
    );
}

/// A projection over the same mixed history sees only current-version events.
#[derive(Clone, Default)]
struct PriceLog {
    seen: std::sync::Arc<std::sync::Mutex<Vec<(i64, String, String)>>>,
}

#[projection(name = "test.price_log")]
impl PriceLog {
    async fn on_priced(&mut self, e: &Priced) {
        self.seen
            .lock()
            .unwrap()
            .push((e.amount_cents, e.currency.clone(), e.trail.clone()));
    }
}

#[tokio::test]
async fn projections_read_old_versions_and_old_names_through_the_chain() {
    let store = store_with_history("projected").await;
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    let log = PriceLog::default();
    runner
        .start(
            log.clone(),
            eventsource::memory::InMemoryProjectionBackend::new(),
        )
        .await
        .unwrap();
    let head = store.head_position().await.unwrap();
    runner
        .wait_until("test.price_log", head, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(*log.seen.lock().unwrap(), expected_seen());
    assert_eq!(runner.status("test.price_log").await.unwrap().parked, 0);
    runner.shutdown().await;
}

/// Version 3, whose last upcaster returns a struct of the same shape that is
/// not the event type: the chain still ends in the event, through JSON.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "test.Mirrored", version = 3)]
struct Mirrored {
    label: String,
    steps: u32,
}

#[derive(Deserialize)]
struct MirroredV2 {
    label: String,
}

#[derive(Serialize)]
struct MirroredShape {
    label: String,
    steps: u32,
}

#[upcaster(event = "test.Mirrored", from = 1)]
fn mirrored_v1(mut v1: Value) -> Value {
    v1["label"] = json!(format!("{}+1", v1["label"].as_str().unwrap_or("?")));
    v1
}

#[upcaster(event = "test.Mirrored", from = 2)]
fn mirrored_v2(old: MirroredV2) -> MirroredShape {
    MirroredShape {
        label: old.label + "+2",
        steps: 2,
    }
}

#[test]
fn typed_last_steps_hand_over_their_struct_or_go_through_json() {
    // One version behind: the text is decoded straight into the typed
    // upcaster's input, its output is the event.
    let from_text: Priced = decode_event(&record(
        "test.Priced",
        2,
        json!({ "amount_cents": 3, "trail": "t" }),
    ))
    .unwrap();
    assert_eq!(from_text.trail, "t2");
    // Two versions behind: JSON first, then the typed step hands over.
    let from_value: Priced =
        decode_event(&record("test.Priced", 1, json!({ "amount": 0.5 }))).unwrap();
    assert_eq!((from_value.amount_cents, &*from_value.trail), (50, "12"));
    // A typed last step of another type than the event: through JSON.
    for (version, label) in [(1, "a+1+2"), (2, "a+2")] {
        let mirrored: Mirrored =
            decode_event(&record("test.Mirrored", version, json!({ "label": "a" }))).unwrap();
        assert_eq!(
            mirrored,
            Mirrored {
                label: label.into(),
                steps: 2
            }
        );
    }
}

#[test]
fn a_missing_first_step_names_the_current_version() {
    // Test.Priced is at version 3, with upcasters from 1 (JSON) and from 2
    // (typed, handing the event over): version 0 has no way up.
    let err = decode_event::<Priced>(&record("test.Priced", 0, json!({}))).unwrap_err();
    assert!(
        matches!(
            err.kind,
            DecodeErrorKind::MissingUpcaster {
                from: 0,
                current: 3
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("no upcaster from version 0 (the current version is 3)"),
        "{err}"
    );
}

#[test]
fn typed_hand_overs_report_the_same_errors_as_the_json_path() {
    let mut not_json = record("test.Priced", 2, json!({}));
    not_json.payload = "{\"amount_cents\": 3,".into();
    let err = decode_event::<Priced>(&not_json).unwrap_err();
    assert!(matches!(err.kind, DecodeErrorKind::Payload(_)), "{err}");
    assert_eq!(err.global_position, 40);

    let wrong_shape = record(
        "test.Priced",
        2,
        json!({ "amount_cents": "x", "trail": "" }),
    );
    let err = decode_event::<Priced>(&wrong_shape).unwrap_err();
    assert!(
        matches!(err.kind, DecodeErrorKind::Upcast { from: 2, .. }),
        "{err}"
    );

    let refused = record("test.Leveled", 1, json!({ "level": 256 }));
    let err = decode_event::<Leveled>(&refused).unwrap_err();
    assert!(
        matches!(&err.kind, DecodeErrorKind::Upcast { from: 1, source } if source.message() == "level out of range"),
        "{err}"
    );
}

/// Version 2 with a field that is never serialized, so only a struct handed
/// over as the upcaster built it keeps it.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "test.Tagged", version = 2)]
struct Tagged {
    n: u32,
    #[serde(skip)]
    via: String,
}

#[derive(Deserialize)]
struct TaggedV1 {
    n: u32,
}

#[upcaster(event = "test.Tagged", from = 1)]
fn tagged_v1(old: TaggedV1) -> Tagged {
    Tagged {
        n: old.n + 1,
        via: "handed over".into(),
    }
}

#[test]
fn a_typed_step_to_the_event_type_skips_json() {
    let registry = Registry::global();
    assert!(registry.chain("test.Tagged").typed(1).is_some());
    assert!(registry.chain("test.Priced").typed(2).is_some());
    assert!(
        registry.chain("test.Priced").typed(1).is_none(),
        "a JSON upcaster"
    );
    let upcast: Tagged = decode_event(&record("test.Tagged", 1, json!({ "n": 1 }))).unwrap();
    assert_eq!((upcast.n, &*upcast.via), (2, "handed over"));
    let current: Tagged = decode_event(&record("test.Tagged", 2, json!({ "n": 1 }))).unwrap();
    assert_eq!((current.n, &*current.via), (1, ""));
}
