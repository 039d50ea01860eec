//! `registry --graph`, `--catalogue`, `--check-lock`, `--update-lock` and
//! `--check-payloads`: what the registry shows of the application beyond
//! its tables, and the two schema drift checks.

use eventsource::ops::{Operations, OpsError};
use eventsource::registry::{Catalogue, FlowGraph, LockError, PayloadCheck, Sampling, SchemaLock};

use crate::cli::{GraphFormat, RegistryArgs};
use crate::exit::Exit;

/// Which of them was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Graph,
    Catalogue,
    CheckLock,
    UpdateLock,
    CheckPayloads,
}

/// Carries `action` out, printing JSON when `json`.
pub(crate) async fn run(
    ops: &Operations,
    json: bool,
    args: &RegistryArgs,
    action: Action,
) -> Result<Exit, OpsError> {
    let registry = ops.registry();
    match action {
        Action::Graph => {
            let graph = FlowGraph::of(registry);
            let format = if json { GraphFormat::Json } else { args.format };
            match format {
                GraphFormat::Mermaid => print!("{}", graph.to_mermaid()),
                GraphFormat::Svg => print!("{}", graph.to_svg()),
                GraphFormat::Json => println!("{}", graph.to_json()),
            }
            Ok(Exit::Ok)
        }
        Action::Catalogue => {
            let catalogue = Catalogue::of(registry);
            if json {
                print_json(&catalogue);
            } else {
                print!("{}", catalogue.to_markdown());
            }
            Ok(Exit::Ok)
        }
        Action::CheckLock => {
            let catalogue = Catalogue::of(registry);
            match SchemaLock::check_file(&args.lock, &catalogue) {
                Ok(report) => {
                    if json {
                        print_json(&report);
                    } else {
                        print!("{report}");
                    }
                    Ok(if report.is_up_to_date() {
                        Exit::Ok
                    } else {
                        Exit::Problems
                    })
                }
                Err(error) => Ok(lock_failure(&error)),
            }
        }
        Action::UpdateLock => {
            let catalogue = Catalogue::of(registry);
            match SchemaLock::write_updated(&args.lock, &catalogue) {
                Ok(report) => {
                    if json {
                        print_json(&report);
                    } else {
                        for change in &report.changes {
                            println!("{change}");
                        }
                        println!("updated {}", args.lock.display());
                    }
                    Ok(Exit::Ok)
                }
                Err(error) => Ok(lock_failure(&error)),
            }
        }
        Action::CheckPayloads => {
            let catalogue = Catalogue::of(registry);
            // The lock, when there is one, describes the versions the code
            // no longer does.
            let lock = match SchemaLock::read(&args.lock) {
                Ok(lock) => Some(lock),
                Err(LockError::Missing { .. }) => None,
                Err(error) => return Ok(lock_failure(&error)),
            };
            let check = match PayloadCheck::new(&catalogue, lock.as_ref()) {
                Ok(check) => check,
                Err(error) => {
                    eprintln!("error: {error}");
                    return Ok(Exit::Failed);
                }
            };
            let sampling = if args.sample > 1 {
                Sampling::OneIn(args.sample)
            } else {
                Sampling::All
            };
            let report = check.run(&**ops.store(), sampling).await?;
            if json {
                print_json(&report);
            } else {
                print!("{report}");
            }
            Ok(if report.is_clean() {
                Exit::Ok
            } else {
                Exit::Problems
            })
        }
    }
}

/// Reports a lock that cannot be used: a breaking change is a finding
/// (exit 3), anything else a failure.
fn lock_failure(error: &LockError) -> Exit {
    match error {
        LockError::Breaking(report) => {
            print!("{report}");
            Exit::Problems
        }
        LockError::Missing { .. } => {
            eprintln!("error: {error}");
            Exit::Problems
        }
        other => {
            eprintln!("error: {other}");
            Exit::Failed
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("error: cannot print JSON: {error}"),
    }
}
