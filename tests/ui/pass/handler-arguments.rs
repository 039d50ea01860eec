//! Command handlers taking the command by value or by reference, with and
//! without the metadata, and each creation policy.

use eventsource::{CommandError, CreationPolicy, Error};
use eventsource::prelude::*;
use eventsource::testing::AggregateFixture;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.Opened")]
struct Opened {
    by: Option<String>,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.Noted")]
struct Noted {
    text: String,
}

#[derive(Command, Clone)]
#[command(aggregate = Ledger)]
struct Open {
    #[aggregate_id]
    id: String,
}

#[derive(Command, Clone)]
#[command(aggregate = Ledger)]
struct Note {
    #[aggregate_id]
    id: String,
    text: String,
}

#[derive(Command)]
#[command(aggregate = Ledger)]
struct NoteByRef {
    #[aggregate_id]
    id: String,
    text: String,
}

#[derive(Command)]
#[command(aggregate = Ledger)]
struct Touch {
    #[aggregate_id]
    id: String,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "pass.Ledger")]
struct Ledger {
    notes: Vec<String>,
}

#[aggregate_impl]
impl Ledger {
    /// By value, with metadata; the stream must not exist.
    #[command_handler(create)]
    fn open(&self, _cmd: Open, meta: &Metadata) -> Opened {
        Opened {
            by: meta.actor.clone(),
        }
    }

    /// By value, without metadata; the stream must exist.
    #[command_handler]
    fn note(&self, cmd: Note) -> Noted {
        Noted { text: cmd.text }
    }

    /// By reference, with metadata.
    #[command_handler]
    fn note_by_ref(&self, cmd: &NoteByRef, meta: &Metadata) -> Noted {
        let by = meta.actor.as_deref().unwrap_or("nobody");
        Noted {
            text: format!("{} ({by})", cmd.text),
        }
    }

    /// New or existing.
    #[command_handler(create_if_missing)]
    fn touch(&self, _: &Touch) -> Option<Opened> {
        self.notes.is_empty().then_some(Opened { by: None })
    }

    #[event_sourcing_handler]
    fn on_opened(&mut self, e: &Opened) {
        self.notes.push(format!("opened by {:?}", e.by));
    }

    #[event_sourcing_handler]
    fn on_noted(&mut self, e: &Noted) {
        self.notes.push(e.text.clone());
    }
}

fn main() {
    assert_eq!(<Ledger as Handles<Open>>::POLICY, CreationPolicy::Create);
    assert_eq!(<Ledger as Handles<Note>>::POLICY, CreationPolicy::Existing);
    assert_eq!(<Ledger as Handles<Touch>>::POLICY, CreationPolicy::CreateIfMissing);

    let id = || "l1".to_owned();
    AggregateFixture::<Ledger>::new()
        .with_metadata(Metadata::new().with_actor("ada"))
        .when(Open { id: id() })
        .then_expect_events([Opened {
            by: Some("ada".into()),
        }]);
    AggregateFixture::<Ledger>::given([Opened { by: None }])
        .when(Open { id: id() })
        .then_expect_failure(|e| matches!(e, CommandError::Failed(Error::AlreadyExists { .. })));
    AggregateFixture::<Ledger>::new()
        .when(Note {
            id: id(),
            text: "x".into(),
        })
        .then_expect_failure(|e| matches!(e, CommandError::Failed(Error::NotFound { .. })));
    AggregateFixture::<Ledger>::given([Opened { by: None }])
        .when(Note {
            id: id(),
            text: "hello".into(),
        })
        .then_expect_events([Noted {
            text: "hello".into(),
        }]);
    AggregateFixture::<Ledger>::given([Opened { by: None }])
        .with_metadata(Metadata::new().with_actor("bob"))
        .when(NoteByRef {
            id: id(),
            text: "hi".into(),
        })
        .then_expect_events([Noted {
            text: "hi (bob)".into(),
        }]);
    AggregateFixture::<Ledger>::new()
        .when(Touch { id: id() })
        .then_expect_events([Opened { by: None }]);
    AggregateFixture::<Ledger>::given([Opened { by: None }])
        .when(Touch { id: id() })
        .then_expect_no_events()
        .then_expect_state(|l| assert_eq!(l.notes.len(), 1));
    eventsource::testing::assert_registry_valid();
}
