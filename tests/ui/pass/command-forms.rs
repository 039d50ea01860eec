//! Commands with named and tuple fields, default and explicit names, and ids
//! of any `Display` type.

use eventsource::Registry;
use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.Renamed")]
struct Renamed {
    to: String,
}

#[derive(Command)]
#[command(aggregate = Thing)]
struct Rename {
    #[aggregate_id]
    id: String,
    to: String,
}

#[derive(Command)]
#[command(aggregate = Thing, name = "pass.RenameByNumber")]
struct RenameByNumber(String, #[aggregate_id] u64);

#[derive(Command)]
#[command(name = "pass.RenameByUuid")]
#[command(aggregate = self::Thing)]
struct RenameByUuid {
    #[aggregate_id]
    id: eventsource::uuid::Uuid,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "pass.Thing")]
struct Thing {
    name: String,
}

#[aggregate_impl]
impl Thing {
    #[command_handler(create_if_missing)]
    fn rename(&self, cmd: &Rename) -> Renamed {
        Renamed { to: cmd.to.clone() }
    }

    #[command_handler(create_if_missing)]
    fn rename_by_number(&self, cmd: &RenameByNumber) -> Renamed {
        Renamed { to: cmd.0.clone() }
    }

    #[command_handler(create_if_missing)]
    fn rename_by_uuid(&self, _: &RenameByUuid) -> Option<Renamed> {
        None
    }

    #[event_sourcing_handler]
    fn on_renamed(&mut self, e: &Renamed) {
        self.name = e.to.clone();
    }
}

fn main() {
    let rename = Rename {
        id: "t1".into(),
        to: "b".into(),
    };
    assert_eq!(rename.aggregate_id(), "t1");
    assert!(Rename::NAME.ends_with("::Rename"), "{}", Rename::NAME);
    assert_eq!(RenameByNumber("b".into(), 42).aggregate_id(), "42");
    assert_eq!(RenameByNumber::NAME, "pass.RenameByNumber");
    let id = eventsource::uuid::Uuid::nil();
    assert_eq!(RenameByUuid { id }.aggregate_id(), id.to_string());

    let (events, thing) = eventsource::testing::AggregateFixture::<Thing>::new()
        .when(rename)
        .into_result()
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(thing.name, "b");
    eventsource::testing::assert_registry_valid();
    assert_eq!(Registry::global().parts().commands.len(), 3);
}
