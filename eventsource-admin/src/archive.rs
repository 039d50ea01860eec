//! `archive run|status|export` and `truncate`: the archive and truncation
//! jobs by policy, with progress bars on a terminal.

use std::time::Duration;

use eventsource::archive::{ArchivePhase, ArchivePolicy, ExportOptions, TruncatePolicy};
use eventsource::ops::{Operations, OpsError};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::{ArchiveCommand, ArchiveRunArgs, ExportArgs, TruncateArgs};
use crate::exit::Exit;
use crate::run::Out;

/// A bar counting `unit`, hidden with `--json` (indicatif hides it by
/// itself when standard error is not a terminal).
fn bar(out: &Out, unit: &str) -> ProgressBar {
    if out.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{per_sec}}, ETA {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

pub(crate) async fn archive(
    ops: &Operations,
    out: &Out,
    command: ArchiveCommand,
) -> Result<Exit, OpsError> {
    match command {
        ArchiveCommand::Run(args) => run(ops, out, args).await,
        ArchiveCommand::Status => status(ops, out).await,
        ArchiveCommand::Export(args) => export(ops, out, args).await,
    }
}

async fn run(ops: &Operations, out: &Out, args: ArchiveRunArgs) -> Result<Exit, OpsError> {
    let policy = ArchivePolicy::new(&args.aggregate_type, Duration::from_secs(args.older_than))
        .with_batch_size(args.batch)
        .with_pause(Duration::from_millis(args.pause_ms));
    let bar = bar(out, "streams");
    let report = ops
        .archive(policy, |at| {
            let message = match at.phase {
                ArchivePhase::Listing => "listing streams",
                ArchivePhase::Checking => "asking aggregates",
                ArchivePhase::Moving => "archiving",
                _ => "done",
            };
            bar.set_message(format!("{message} ({} events moved)", at.events_moved));
            bar.set_length(at.streams_total);
            bar.set_position(at.streams_done);
        })
        .await;
    bar.finish_and_clear();
    let report = report?;
    if out.json {
        #[derive(Serialize)]
        struct Json<'a> {
            aggregate_type: &'a str,
            streams_matched: u64,
            streams_archived: u64,
            streams_unchanged: u64,
            events_moved: u64,
        }
        out.print_json(&Json {
            aggregate_type: &args.aggregate_type,
            streams_matched: report.streams_matched,
            streams_archived: report.streams_archived,
            streams_unchanged: report.streams_unchanged,
            events_moved: report.events_moved,
        });
    } else {
        println!(
            "archived {} events of {} streams of `{}` ({} matched, {} had nothing left to move)",
            report.events_moved,
            report.streams_archived,
            args.aggregate_type,
            report.streams_matched,
            report.streams_unchanged
        );
    }
    Ok(Exit::Ok)
}

async fn status(ops: &Operations, out: &Out) -> Result<Exit, OpsError> {
    let status = ops.archive_status().await?;
    if out.json {
        out.print_json(&status);
        return Ok(Exit::Ok);
    }
    println!(
        "{} archived events of {} streams, positions {} to {}",
        status.events,
        status.streams,
        status
            .first_position
            .map_or_else(|| "-".to_owned(), |p| p.to_string()),
        status
            .last_position
            .map_or_else(|| "-".to_owned(), |p| p.to_string()),
    );
    let mut table = out.table(&["range", "from position", "to position", "events"]);
    for range in &status.ranges {
        table.add_row(vec![
            range.name.clone(),
            range.from_position.to_string(),
            range.to_position.to_string(),
            range.events.to_string(),
        ]);
    }
    println!("{table}");
    Ok(Exit::Ok)
}

async fn export(ops: &Operations, out: &Out, args: ExportArgs) -> Result<Exit, OpsError> {
    let options = ExportOptions {
        from_position: args.from_position,
        to_position: args.to_position.unwrap_or(u64::MAX),
        events_per_file: args.events_per_file,
    };
    let bar = bar(out, "files");
    let manifest = ops
        .export_archive(&args.dir, options, |at| {
            bar.set_message(format!("exporting ({} events)", at.events));
            bar.set_position(at.files);
        })
        .await;
    bar.finish_and_clear();
    let manifest = manifest?;
    if out.json {
        out.print_json(&manifest);
    } else {
        println!(
            "exported {} events in {} files to {}",
            manifest.events,
            manifest.files.len(),
            args.dir.display()
        );
    }
    Ok(Exit::Ok)
}

pub(crate) async fn truncate(
    ops: &Operations,
    out: &Out,
    args: TruncateArgs,
) -> Result<Exit, OpsError> {
    let policy = TruncatePolicy::new(&args.aggregate_type, args.keep_last);
    let bar = bar(out, "streams");
    let report = ops
        .truncate_by_policy(policy, |at| {
            bar.set_message(format!("truncating ({} events removed)", at.events_removed));
            bar.set_position(at.streams_done);
        })
        .await;
    bar.finish_and_clear();
    let report = report?;
    if out.json {
        #[derive(Serialize)]
        struct Json {
            streams_matched: u64,
            streams_truncated: u64,
            streams_without_baseline: u64,
            events_removed: u64,
        }
        out.print_json(&Json {
            streams_matched: report.streams_matched,
            streams_truncated: report.streams_truncated,
            streams_without_baseline: report.streams_without_baseline,
            events_removed: report.events_removed,
        });
    } else {
        println!(
            "removed {} events from {} streams of `{}` ({} matched, {} without a snapshot left whole)",
            report.events_removed,
            report.streams_truncated,
            args.aggregate_type,
            report.streams_matched,
            report.streams_without_baseline
        );
    }
    Ok(Exit::Ok)
}
