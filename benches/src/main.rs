//! The eventsource benchmark harness.
//!
//! `cargo bench -p eventsource-benches` runs every workload against its
//! baseline, interleaved in the same process, and writes `BENCHMARKS.md` at
//! the repository root. Options (after `--`):
//!
//! - `--quick`: few, short rounds and smaller data (a smoke run; not for
//!   publishing);
//! - `--only a,b`: run only these workloads (`rehydration`, `commands`,
//!   `append`, `load`, `catchup`, `peers`, `compile`, `disintegrate`,
//!   `growth`, `payload`, `relay`, `replica`, `memory`, `partitions`) and
//!   print the report instead of writing it;
//! - `--out FILE`: write the report to `FILE`;
//! - `--no-callgrind`: skip the instruction counts under valgrind.
//!
//! The PostgreSQL workloads (3, 4, 5, 8 to 12 and the `postgres-es` half of 6) use
//! the server at `DATABASE_URL`; when it is unset or unreachable, the
//! harness runs itself again under `scripts/with-postgres`, which starts a
//! throwaway server from the local PostgreSQL binaries (as `./scripts/test`
//! does) or fails saying what to install.
//!
//! For profiling, `EVENTSOURCE_BENCH_CASES=single,batch,copy,group,writers,
//! writers-alone,commands,cached-commands` restricts workload 3 to some of
//! its cases,
//! `EVENTSOURCE_BENCH_RUNNERS=1` sets the group-commit runners of its
//! many-writer rows (default 2), and
//! `EVENTSOURCE_BENCH_CATCHUP=500:5000,5000:20000` sets workload 5's
//! (batch size, page size) pairs.
//!
//! Workload 13 (`replica`) needs a primary and a hot standby, named by
//! `REPLICA_PRIMARY_URL` and `REPLICA_STANDBY_URL` (as
//! `scripts/with-replica-postgres` exports them); `--only replica` without
//! them runs the harness again under that script, and a run of everything
//! without them reports the workload as not measured, saying how to run it.
//!
//! It is a bench target without the test harness. `cargo bench` passes it
//! `--bench`; without that flag (as under `cargo test --all-targets`) it
//! measures nothing and leaves `BENCHMARKS.md` alone, so a test run can never
//! overwrite the published figures with unoptimized ones. The test command
//! (`scripts/test`) does not build it at all.

mod callgrind;
mod compile;
mod domain;
mod machine;
mod measure;
mod peers;
mod pg;
mod report;
mod server;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;

use measure::Settings;
use report::Section;

const COMMAND: &str = "cargo bench -p eventsource-benches";
const WORKLOADS: [&str; 14] = [
    "rehydration",
    "commands",
    "memory",
    "append",
    "load",
    "catchup",
    "peers",
    "compile",
    "disintegrate",
    "growth",
    "payload",
    "relay",
    "replica",
    "partitions",
];

/// The workloads that need a PostgreSQL server.
const ON_POSTGRES: [&str; 8] = [
    "append",
    "load",
    "catchup",
    "peers",
    "disintegrate",
    "growth",
    "payload",
    "partitions",
];

/// What the command line asked for.
struct Options {
    quick: bool,
    only: Option<Vec<String>>,
    out: Option<PathBuf>,
    callgrind: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--callgrind-child") {
        let (mode, schema) = (args.get(i + 1), args.get(i + 2));
        let known = matches!((mode, schema), (Some(m), Some(s)) if callgrind::child(m, s));
        return if known {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if let Some(i) = args.iter().position(|a| a == "--memory-child") {
        let known = workloads::memory::child(args.get(i + 1), args.get(i + 2));
        return if known {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("not run by `cargo bench`: nothing measured (run `{COMMAND}`)");
        return ExitCode::SUCCESS;
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: built without optimizations; run `{COMMAND}` for real figures");
    }
    let settings = if options.quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    let wanted = |name: &str| {
        options
            .only
            .as_ref()
            .is_none_or(|o| o.iter().any(|w| w == name))
    };
    let replica_servers = workloads::postgres::replica::servers();
    let only_replica = options.only.as_deref() == Some(&["replica".to_owned()][..]);
    if only_replica && replica_servers.is_none() {
        return workloads::postgres::replica::rerun(&compile::workspace_root(), &args);
    }
    let rt = workloads::runtime();
    let mut machine = machine::Machine::detect();
    let callgrind = options.callgrind && callgrind::available();
    let pg_rt = pg::runtime();
    let db = if ON_POSTGRES.iter().any(|w| wanted(w)) {
        match pg::find(&pg_rt) {
            Ok(db) => {
                eprintln!("PostgreSQL: {}", db.description);
                machine = machine.with_postgres(&db.description);
                pg_rt.block_on(async {
                    let pool = pg::pool(&db, 1).await;
                    pg::sweep(&pool).await;
                    pool.close().await;
                });
                machine = machine.with_server_state(server::state(&pg_rt, &db, &settings));
                Ok(db)
            }
            Err(why) if !pg::wrapped() => {
                eprintln!("{why}");
                return pg::rerun_with_postgres(&compile::workspace_root(), &args);
            }
            Err(why) => Err(why),
        }
    } else {
        Err("not requested".to_owned())
    };

    let mut sections: Vec<Section> = Vec::new();
    if wanted("rehydration") {
        eprintln!("workload 1: rehydration");
        sections.push(workloads::rehydration::run(&rt, &settings, callgrind));
    }
    if wanted("commands") {
        eprintln!("workload 2: command throughput");
        sections.push(workloads::commands::run(&rt, &settings));
    }
    if wanted("memory") {
        eprintln!("workload 14: memory per event");
        sections.push(workloads::memory::run(&settings));
    }
    match &db {
        Ok(db) => {
            if wanted("append") {
                eprintln!("workload 3: PostgreSQL append");
                sections.push(workloads::postgres::append::run(&pg_rt, &settings, db));
            }
            if wanted("load") {
                eprintln!("workload 4: PostgreSQL load");
                sections.push(workloads::postgres::load::run(&pg_rt, &settings, db));
            }
            if wanted("catchup") {
                eprintln!("workload 5: projection catch-up from PostgreSQL");
                sections.push(workloads::postgres::catchup::run(&pg_rt, &settings, db));
            }
        }
        Err(why) => {
            let wanted_here = ["append", "load", "catchup"].iter().any(|w| wanted(w));
            if wanted_here {
                sections.extend(workloads::postgres::not_measured(why));
            }
        }
    }
    if wanted("peers") {
        eprintln!("workload 6: peers");
        let postgres = match &db {
            Ok(db) => Ok((&pg_rt, db)),
            Err(why) => Err(why.as_str()),
        };
        sections.push(peers::run(&rt, &settings, postgres));
    }
    if wanted("compile") {
        eprintln!("workload 7: compile cost");
        sections.push(compile::run(&settings));
    }
    // The later PostgreSQL workloads: (key, number, title, run).
    type Later<'a> = (
        &'static str,
        &'static str,
        &'static str,
        &'a dyn Fn(&pg::Db) -> Vec<Section>,
    );
    let later: [Later<'_>; 4] = [
        ("disintegrate", "8", "Peer: disintegrate-postgres", &|db| {
            vec![peers::disintegrate::run(&pg_rt, &settings, db)]
        }),
        ("growth", "9, 10", "Growth", &|db| {
            workloads::postgres::growth::run(&pg_rt, &settings, db)
        }),
        ("payload", "11", "Payload column type", &|db| {
            vec![workloads::postgres::payload::run(&pg_rt, &settings, db)]
        }),
        ("partitions", "15", "Partitioned projection", &|db| {
            vec![workloads::postgres::partitions::run(&pg_rt, &settings, db)]
        }),
    ];
    for (key, number, title, run) in later {
        if !wanted(key) {
            continue;
        }
        match &db {
            Ok(db) => {
                eprintln!("workload {number}: {title}");
                sections.extend(run(db));
            }
            Err(why) => sections.push(Section {
                number,
                title,
                method: String::new(),
                body: report::Body::NotMeasured(format!("No PostgreSQL server: {why}.")),
            }),
        }
    }

    if wanted("relay") {
        // Needs a NATS server with JetStream (`NATS_URL`, default
        // 127.0.0.1:4222); without one the section says so.
        eprintln!("workload 12: JetStream relay");
        sections.push(workloads::relay::run(&rt, &settings));
    }
    if wanted("replica") {
        match &replica_servers {
            Some(urls) => {
                eprintln!("workload 13: loads from a hot standby");
                sections.push(workloads::postgres::replica::run(&pg_rt, &settings, urls));
            }
            None => sections.push(workloads::postgres::replica::not_measured()),
        }
    }

    machine.finish();
    let text = report::render(&sections, &machine, COMMAND);
    let out = match (&options.out, &options.only) {
        (Some(path), _) => Some(path.clone()),
        (None, None) => Some(compile::workspace_root().join("BENCHMARKS.md")),
        (None, Some(_)) => None,
    };
    match out {
        Some(path) => match std::fs::write(&path, &text) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(error) => {
                eprintln!("cannot write {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => println!("{text}"),
    }
    ExitCode::SUCCESS
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        only: None,
        out: None,
        callgrind: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            "--quick" => options.quick = true,
            "--no-callgrind" => options.callgrind = false,
            "--only" => {
                let list = args.next().ok_or("--only needs a list of workloads")?;
                let names: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).collect();
                if let Some(unknown) = names.iter().find(|n| !WORKLOADS.contains(&n.as_str())) {
                    return Err(format!(
                        "unknown workload `{unknown}`; choose from {}",
                        WORKLOADS.join(", ")
                    ));
                }
                options.only = Some(names);
            }
            "--out" => {
                let path = args.next().ok_or("--out needs a file")?;
                options.out = Some(PathBuf::from(path));
            }
            other => {
                return Err(format!(
                    "unknown option `{other}`; options: --quick, --only LIST, --out FILE, \
                     --no-callgrind"
                ));
            }
        }
    }
    Ok(options)
}
