//! Operations for eventsource applications: a command line the application
//! mounts in its own binary (`myapp admin <command>`), and a web console it
//! mounts in its own router.
//!
//! Both are thin layers over [`eventsource::ops::Operations`], the library
//! API over the stores, so they behave the same, and both know the
//! application's registry (its events, upcasters, projections and sagas)
//! because they run inside its binary.
//!
//! # Mounting the CLI
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! #[tokio::main]
//! async fn main() -> ExitCode {
//!     let mut args = std::env::args().skip(1);
//!     if args.next().as_deref() == Some("admin") {
//!         let store = eventsource_postgres::PgEventStore::connect("postgres://localhost/app")
//!             .await
//!             .expect("the database");
//!         return eventsource_admin::run(store.operations(), args).await.into();
//!     }
//!     // ... the application ...
//!     ExitCode::SUCCESS
//! }
//! ```
//!
//! `myapp admin --help` lists the commands: `migrate`, `streams`, `stream
//! show`, `events tail`, `projections`, `pause`, `resume`, `rebuild`,
//! `reset`, `dead-letters`, `sagas`, `registry`, `check`, and for the event
//! lifecycle `stream delete [--hard]`, `stream recreate`, `stream truncate
//! --before N` and `subject forget`; `archive run --type T --older-than
//! SECS` (with a progress bar; safe to run again after a crash), `archive
//! status`, `archive export DIR` and `truncate --type T --keep-last K`. Each prints a
//! table (coloured on a terminal, plain otherwise or with `NO_COLOR`), or
//! JSON with `--json`. `rebuild` shows a progress bar (done, total, rate,
//! ETA) on a terminal.
//!
//! `registry` also draws and checks: `--graph [--format mermaid|svg|json]`
//! prints the event flow, `--catalogue` the event catalogue (Markdown, or
//! JSON), `--check-lock` compares the events' JSON Schemas with the
//! committed lock file (`--lock PATH`, `events.lock.json` by default) and
//! exits 3 on a breaking change, `--update-lock` records compatible changes,
//! and `--check-payloads [--sample N]` validates stored payloads against the
//! schema of their recorded version.
//!
//! `pause`, `resume`, `rebuild`, `reset` and `dead-letters retry` act on the
//! instance that holds the projection's lease, in whichever process it
//! runs: the command records a control request in the store, the owner
//! carries it out after its current batch, and the command reports when it
//! has (or exits with code 5 when no owner took it up within `--timeout`).
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | failed: a store error, or the owner could not carry the request out |
//! | 2 | usage: unknown command or bad arguments |
//! | 3 | `check` or `registry` found problems |
//! | 4 | not found: no such projection, stream, event, saga or instance |
//! | 5 | timed out: no instance owning the projection took the request up in time |
//! | 6 | unavailable: no saga store, or nothing to migrate (in memory) |
//!
//! # The console
//!
//! [`Console`] is an axum [`Router`](axum::Router): projections with their
//! state and lag (refreshed live through server-sent events), dead letters
//! with retry and skip buttons, a stream browser showing decoded events,
//! the registry with the event-flow graph, the event catalogue and `check`,
//! each page backed by JSON endpoints under
//! `api/`. It is read-only unless the application enables the actions
//! ([`Console::with_actions`]).

mod archive;
mod cli;
mod console;
mod exit;
mod registry;
mod run;

use std::ffi::OsString;
#[cfg(doc)]
use std::process::ExitCode;

use clap::Parser;
use eventsource::ops::Operations;

pub use cli::Cli;
pub use console::Console;
pub use exit::{EXIT_CODES, Exit};

/// Runs the admin command line `args` (what follows `admin`) on `ops`,
/// printing to standard output and errors; returns the exit code (an
/// [`ExitCode`] through `into()`, or a number through [`Exit::code`]).
pub async fn run<I, T>(ops: Operations, args: I) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = std::iter::once(OsString::from("admin")).chain(args.into_iter().map(Into::into));
    match Cli::try_parse_from(args) {
        Ok(cli) => run::execute(&ops, cli).await,
        Err(error) => {
            let _ = error.print();
            if error.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            }
        }
    }
}
