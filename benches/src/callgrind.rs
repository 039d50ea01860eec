//! Instruction counts under `valgrind --tool=callgrind`: a noise-free second
//! opinion for the rehydration workload.
//!
//! The harness runs itself under valgrind with `--callgrind-child MODE SCHEMA`;
//! the child builds the stream, loads it once to warm up, then once inside a
//! function named for the measurement, and callgrind counts only inside it.

use std::hint::black_box;
use std::process::Command;

use eventsource::Repository;
use tokio::runtime::Runtime;

use crate::domain::Account;
use crate::domain::mix::Schema;
use crate::workloads::rehydration::{EVENTS, load_baseline, load_ours};
use crate::workloads::{runtime, stream};

/// Whether `valgrind` can be run.
pub(crate) fn available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The instructions executed by one measured call of `mode` on `schema`.
pub(crate) fn count(mode: &str, schema: &str) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let dir = std::env::temp_dir().join(format!(
        "eventsource-bench-callgrind-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).ok()?;
    let out = dir.join(format!("{mode}-{schema}.out"));
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--toggle-collect=*callgrind_measured*")
        .arg(&exe)
        .args(["--callgrind-child", mode, schema])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return None;
    }
    text?.lines().find_map(|line| {
        line.strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))
            .and_then(|n| n.trim().parse().ok())
    })
}

/// The child side: runs one measurement; returns false for an unknown mode.
pub(crate) fn child(mode: &str, schema: &str) -> bool {
    let schema = match schema {
        "current" => Schema::Current,
        "old" => Schema::TenPercentOld,
        _ => return false,
    };
    let rt = runtime();
    let stored = stream::build(&rt, EVENTS, schema);
    match mode {
        "rehydration-ours" => {
            let repo = Repository::<Account>::new(stored.store.clone()).expect("a valid registry");
            black_box(load_ours(&rt, &repo));
            callgrind_measured_ours(&rt, &repo);
        }
        "rehydration-baseline" => {
            black_box(load_baseline(&stored.rows));
            callgrind_measured_baseline(&stored.rows);
        }
        _ => return false,
    }
    true
}

#[inline(never)]
fn callgrind_measured_ours(rt: &Runtime, repo: &Repository<Account>) {
    black_box(load_ours(rt, repo));
}

#[inline(never)]
fn callgrind_measured_baseline(rows: &[stream::Row]) {
    black_box(load_baseline(rows));
}
