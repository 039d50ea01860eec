//! A walkthrough of eventsource on a bank account domain.
//!
//! Run it with `cargo run -p bank`. With `DATABASE_URL` set it runs on
//! PostgreSQL, otherwise in memory. On PostgreSQL its tables live in the
//! schema `bank_example`, or in the one named by `BANK_SCHEMA` (the smoke
//! test gives each run its own); every run writes new streams, so it can run
//! again on the same schema. Set `RUST_LOG=eventsource=debug` to see the
//! tracing spans of every command, load and append.
//!
//! For a server that requires TLS, say how much to check and which CA to
//! trust in the URL, as libpq does:
//! `DATABASE_URL='postgres://app@db.example.com/app?sslmode=verify-full&sslrootcert=/etc/ssl/certs/db-ca.pem'`.

mod domain;

use std::sync::Arc;
use std::time::Duration;

use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::store::IntoEventStore;
use eventsource::testing::TestStore;
use eventsource::{CommandError, Registry};
use eventsource_postgres::{PgEventStore, PgStoreOptions};

use domain::{Account, BankError, CloseAccount, Deposit, OpenAccount, Withdraw};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The schema used on PostgreSQL when `BANK_SCHEMA` is not set.
const DEFAULT_SCHEMA: &str = "bank_example";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let schema = match std::env::var("BANK_SCHEMA") {
                Ok(schema) if !schema.trim().is_empty() => schema,
                _ => DEFAULT_SCHEMA.to_owned(),
            };
            let options = PgStoreOptions::new(&schema)
                .map_err(|e| format!("BANK_SCHEMA `{schema}` is not a valid schema name: {e}"))?;
            let store = PgEventStore::connect_with(&url, options).await?;
            store.migrate().await?;
            println!("eventsource bank walkthrough (store: PostgreSQL, schema {schema})\n");
            walkthrough(store.clone().into_event_store(), Arc::new(store)).await
        }
        _ => {
            let store = InMemoryStore::new();
            println!("eventsource bank walkthrough (store: in memory)\n");
            walkthrough(store.clone().into_event_store(), Arc::new(store)).await
        }
    }
}

async fn walkthrough(
    events: Arc<dyn EventStore>,
    snapshots: Arc<dyn SnapshotStore>,
) -> Result<(), BoxError> {
    let bank = CommandBus::new(events.clone())?.with_snapshots(snapshots.clone());
    let id = format!("acc-{}", eventsource::uuid::Uuid::now_v7().simple());

    println!("1. Open an account");
    let opened = bank
        .dispatch(OpenAccount {
            account_id: id.clone(),
            owner: "Ada".into(),
            overdraft_limit: 50,
        })
        .await?;
    println!(
        "   {} opened for {} (overdraft limit {}), stream version {}",
        opened.stream_id, opened.state.owner, opened.state.overdraft_limit, opened.version
    );

    println!("\n2. Deposit and withdraw");
    let done = bank.dispatch(deposit(&id, 100)).await?;
    println!(
        "   deposit 100  -> balance {:>4} (version {})",
        done.state.balance, done.version
    );
    let done = bank.dispatch(withdraw(&id, 30)).await?;
    println!(
        "   withdraw 30  -> balance {:>4} (version {})",
        done.state.balance, done.version
    );
    // The time the store recorded for the last event of step 2. It comes
    // from the store's clock (the database server's, on PostgreSQL), which
    // is the clock `load_at_time` compares with; this program's clock may be
    // ahead or behind it.
    let mut end_of_step_two = None;
    events
        .visit_stream(&done.stream_id, done.version, &mut |records| {
            end_of_step_two = records.first().map(|record| record.recorded_at);
            false
        })
        .await?;
    let end_of_step_two = end_of_step_two.ok_or("the withdrawal is stored")?;

    println!("\n3. An overdraft is rejected by the domain");
    match bank.dispatch(withdraw(&id, 500)).await {
        Err(CommandError::Rejected(err @ BankError::InsufficientFunds { .. })) => {
            println!("   withdraw 500 -> rejected: {err}");
        }
        other => return Err(format!("expected a rejection, got {other:?}").into()),
    }

    println!("\n4. Two withdrawals at the same moment");
    // Both commands load version 3 and decide before either appends (the
    // test store holds both appends until they meet); one append wins, the
    // other meets a version conflict, reloads and retries.
    let racing_store = TestStore::wrapping(events.clone());
    racing_store.hold_appends(2, Duration::from_secs(30));
    let racing = CommandBus::new(racing_store)?.with_snapshots(snapshots.clone());
    let (a, b) = tokio::join!(
        racing.dispatch(withdraw(&id, 20)),
        racing.dispatch(withdraw(&id, 25)),
    );
    for (name, result) in [("A (20)", a?), ("B (25)", b?)] {
        let mut note = String::new();
        if result.attempts > 1 {
            note.push_str("  <- conflicted, reloaded and retried");
        }
        if result.snapshot_saved {
            note.push_str("; saved a snapshot (every 5 events)");
        }
        println!(
            "   withdrawal {name}: version {} after {} attempt(s){note}",
            result.version, result.attempts
        );
    }

    let accounts: Repository<Account> = bank.repository();
    let now = accounts.load(&id).await?.ok_or("the account exists")?;
    println!(
        "   balance now {} at version {}",
        now.state.balance, now.version
    );

    println!("\n5. The account as it was");
    let then = accounts
        .load_at_version(&id, 2)
        .await?
        .ok_or("version 2 exists")?;
    println!("   as of version 2: balance {}", then.state.balance);
    let then = accounts
        .load_at_time(&id, end_of_step_two)
        .await?
        .ok_or("the account existed then")?;
    println!(
        "   as of the end of step 2 (the time stored with its last event): balance {} at version {}",
        then.state.balance, then.version
    );

    println!("\n6. Snapshots (every 5 events)");
    let done = bank.dispatch(deposit(&id, 45)).await?;
    println!("   deposit 45 -> version {}", done.version);
    let loaded = accounts.load(&id).await?.ok_or("the account exists")?;
    println!(
        "   load: started from the snapshot at version {}, applied {} event(s), balance {}",
        loaded
            .snapshot_version
            .map_or_else(|| "-".to_owned(), |v| v.to_string()),
        loaded.events_applied,
        loaded.state.balance
    );
    let closing = bank
        .dispatch(CloseAccount {
            account_id: id.clone(),
        })
        .await;
    if let Err(CommandError::Rejected(err)) = closing {
        println!("   closing it now is refused: {err}");
    }

    println!("\n7. Events stored by an older release");
    let legacy = legacy_stream(&events).await?;
    let old = accounts
        .load(&legacy)
        .await?
        .ok_or("the legacy account exists")?;
    println!(
        "   stream {} holds AccountOpened v1 (no overdraft field) and a withdrawal \
         stored under its old name `bank.MoneyWithdrawn`",
        old.stream_id
    );
    println!(
        "   it loads through the upcaster and the alias: owner {}, overdraft limit {}, balance {}",
        old.state.owner, old.state.overdraft_limit, old.state.balance
    );

    println!("\n8. The registry");
    for line in Registry::global().table().lines() {
        match line.trim_end() {
            "" => println!(),
            line => println!("   {line}"),
        }
    }
    Ok(())
}

fn deposit(id: &str, amount: i64) -> Deposit {
    Deposit {
        account_id: id.to_owned(),
        amount,
    }
}

fn withdraw(id: &str, amount: i64) -> Withdraw {
    Withdraw {
        account_id: id.to_owned(),
        amount,
    }
}

/// Writes records the way an older release of this program stored them.
async fn legacy_stream(events: &Arc<dyn EventStore>) -> Result<String, BoxError> {
    let id = format!("legacy-{}", eventsource::uuid::Uuid::now_v7().simple());
    let stream = Repository::<Account>::stream_id(&id);
    let old = |name: &str, payload: &str| NewEvent::new(name, 1, payload, Metadata::new());
    events
        .append(
            &stream,
            "bank.Account",
            ExpectedVersion::NoStream,
            vec![
                old("bank.AccountOpened", r#"{"owner":"Grace"}"#),
                old("bank.MoneyDeposited", r#"{"amount":500}"#),
                old("bank.MoneyWithdrawn", r#"{"amount":120}"#),
            ],
        )
        .await?;
    Ok(id)
}
