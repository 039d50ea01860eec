//! Workload 7: what the macros cost at compile time.
//!
//! Generates one workspace with two crates of the same domain — one written
//! with the macros, one written by hand as they expand — builds their
//! dependencies once, then times only each crate's own build, alternating,
//! touching its source before each build. Incremental compilation is off, so
//! every timed build compiles the crate from scratch.

mod generate;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::measure::{Settings, compare};
use crate::report::{Body, Row, Section, Target};
use generate::{AGGREGATES, EVENTS_PER_AGGREGATE};

const MACROS: &str = "bench-gen-macros";
const HAND: &str = "bench-gen-hand";

/// Builds both crates in `settings.build_rounds` interleaved rounds.
pub(crate) fn run(settings: &Settings) -> Section {
    let method = format!(
        "A generated crate with {AGGREGATES} aggregates and {} events ({EVENTS_PER_AGGREGATE} \
         per aggregate, each with a command and a handler, one upcaster per aggregate), written \
         with `#[derive(Event)]`, `#[derive(Command)]`, `#[derive(Aggregate)]`, `#[upcaster]` \
         and `#[aggregate_impl]`, against a hand-written equivalent of their expansion (the \
         same structs and serde derives, the trait impls, event enums, `From` impls and \
         `inventory::submit!` registrations written out). Dependencies are built once; each \
         timed build compiles only the crate itself (`CARGO_INCREMENTAL=0`, source touched \
         before each build). The ratio is macros ÷ hand-written time: lower is better.",
        AGGREGATES * EVENTS_PER_AGGREGATE
    );
    let body = match measure(settings) {
        Ok(rows) => Body::Measured {
            ours: "with macros",
            baseline: "hand-written".into(),
            rows,
            notes: vec![
                "Both crates depend on the same crates (`eventsource` by path, `serde`, \
                 `serde_json`, `inventory`) and derive serde's traits alike, so the difference \
                 is the macros' own expansion time plus the code they add beyond the hand \
                 version: the `EventSchema` impl of every event and `Clone`, `PartialEq` and \
                 `Eq` on every event enum (which the hand-written crate leaves out), the \
                 `const` assertions that place type errors on the user's tokens, the wrapper \
                 function around each JSON upcaster, and the generic `IntoEvents` collection \
                 in each `Handles` impl."
                    .to_owned(),
                "What limits it: counted with callgrind on the compiler's front end \
                 (`--emit=metadata`) for the first 4 aggregates and 20 events of the crate, \
                 the macro crate takes about 1.12 times the hand-written one's instructions \
                 (1.14 before the block macros kept method bodies as tokens instead of \
                 parsing them, and before the `EventSchema` impls were shortened). A little \
                 under half of the difference is running the procedural macros, mostly \
                 building the tokens they emit (`#[aggregate_impl]` the largest); about a \
                 seventh is parsing and expanding what they emit; a little under half is \
                 checking the added code. Of that code, the event enums' `Clone`, \
                 `PartialEq` and `Eq` impls are about a sixth of the whole difference and \
                 the `EventSchema` impls about a tenth; both are public behaviour (the enum \
                 has each trait whenever all its events do; every event implements \
                 `EventSchema`), so they stay. `#[aggregate_impl]` removes the handler \
                 attributes it has read rather than leaving them for a second expansion \
                 each, which saved only about 0.1% of the front end's instructions."
                    .to_owned(),
                "Figures are wall-clock seconds for `cargo build -p <crate>` and `cargo check \
                 -p <crate>`, including cargo's own start-up, which both sides pay alike. The \
                 target applies to the build; the check isolates the front end (expansion, \
                 name resolution, type checking), where the macros' share is largest."
                    .to_owned(),
            ],
        },
        Err(error) => Body::NotMeasured(format!("The generated crates did not build: {error}")),
    };
    Section {
        number: "7",
        title: "Compile cost of the macros",
        method,
        body,
    }
}

fn measure(settings: &Settings) -> Result<Vec<Row>, String> {
    let dir = std::env::temp_dir().join("eventsource-bench-compile");
    write_workspace(&dir)?;
    let target = dir.join("target");
    let mut rows = Vec::new();
    for (subcommand, label) in [
        ("build", "debug build (`cargo build`)"),
        ("check", "type check (`cargo check`)"),
    ] {
        eprintln!("  compile cost: preparing `cargo {subcommand}` (dependencies are built once)");
        cargo(&dir, &target, subcommand, None)?;
        let failure = RefCell::new(None);
        let comparison = compare(
            settings.build_rounds,
            || timed(&dir, &target, subcommand, MACROS, &failure),
            || timed(&dir, &target, subcommand, HAND, &failure),
        );
        if let Some(error) = failure.into_inner() {
            return Err(error);
        }
        let row = Row::new(label, "s", comparison);
        // The target is on build time; the check shows the front end alone.
        rows.push(if subcommand == "build" {
            row.target(Target::AtMost(1.1))
        } else {
            row
        });
    }
    Ok(rows)
}

/// Touches `package`'s source and times its build; keeps the first failure.
fn timed(
    dir: &Path,
    target: &Path,
    subcommand: &str,
    package: &str,
    failure: &RefCell<Option<String>>,
) -> f64 {
    touch(&dir.join(package).join("src/lib.rs"));
    let start = Instant::now();
    if let Err(error) = cargo(dir, target, subcommand, Some(package)) {
        failure.borrow_mut().get_or_insert(error);
    }
    start.elapsed().as_secs_f64()
}

/// Writes the workspace unless it is already there with the same content.
fn write_workspace(dir: &Path) -> Result<(), String> {
    let root = workspace_root();
    let runtime = root.join("eventsource");
    let files: Vec<(PathBuf, String)> = vec![
        (
            dir.join("Cargo.toml"),
            format!("[workspace]\nresolver = \"3\"\nmembers = [\"{MACROS}\", \"{HAND}\"]\n"),
        ),
        (
            dir.join(MACROS).join("Cargo.toml"),
            generate::manifest(MACROS, &runtime.display().to_string()),
        ),
        (dir.join(MACROS).join("src/lib.rs"), generate::with_macros()),
        (
            dir.join(HAND).join("Cargo.toml"),
            generate::manifest(HAND, &runtime.display().to_string()),
        ),
        (dir.join(HAND).join("src/lib.rs"), generate::by_hand()),
    ];
    for (path, content) in files {
        if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, content).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    // The workspace's lock file pins the same dependency versions.
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        std::fs::copy(root.join("Cargo.lock"), &lock).map_err(|e| format!("Cargo.lock: {e}"))?;
    }
    Ok(())
}

/// This repository's root (the harness is built from it).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn cargo(dir: &Path, target: &Path, subcommand: &str, package: Option<&str>) -> Result<(), String> {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command
        .arg(subcommand)
        .arg("--quiet")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match package {
        Some(package) => command.args(["-p", package]),
        None => command.arg("--workspace"),
    };
    let output = command
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!("`cargo {subcommand}` failed:\n{}", tail.join("\n")))
    }
}

/// Sets the file's modification time to now, so cargo rebuilds the crate.
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}
