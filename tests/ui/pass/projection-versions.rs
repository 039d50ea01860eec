//! A versioned projection with a `#[retire]` method, in each form.

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

struct Table {
    dropped: Vec<String>,
}

/// Version 3, whose tables are named for it, retiring with the context.
struct Balances;

#[projection(name = "bank.balances", version = 3)]
impl Balances {
    async fn on_deposited(&mut self, _e: &Deposited, ctx: &mut Table) {
        ctx.dropped.push(format!("balances_v{}", Self::VERSION));
    }

    #[retire]
    async fn drop_tables(&mut self, ctx: &mut Table) -> Result<(), std::io::Error> {
        ctx.dropped.push(format!("balances_v{}", Self::VERSION));
        Ok(())
    }
}

/// Version 1 by default, retiring with nothing to drop.
struct Counter(u64);

#[projection(name = "bank.count")]
impl Counter {
    fn on_deposited(&mut self, _e: &Deposited) {
        self.0 += 1;
    }

    #[retire]
    fn forget(&mut self) {
        self.0 = 0;
    }
}

/// No `#[retire]` method: retiring does nothing.
struct Plain;

#[projection(name = "bank.plain", version = 2)]
impl Plain {
    fn on_deposited(&mut self, _e: &Deposited) {}
}

fn main() {
    const { assert!(Balances::VERSION == 3 && Balances::RETIRES) };
    const { assert!(Counter::VERSION == 1 && Counter::RETIRES) };
    const { assert!(Plain::VERSION == 2 && !Plain::RETIRES) };
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            let mut table = Table { dropped: Vec::new() };
            Balances.retire(&mut table).await.unwrap();
            assert_eq!(table.dropped, ["balances_v3"]);
            let mut counter = Counter(5);
            counter.retire(&mut ()).await.unwrap();
            assert_eq!(counter.0, 0);
            Plain.retire(&mut ()).await.unwrap();
        });
}
