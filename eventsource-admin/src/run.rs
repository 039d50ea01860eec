//! Carrying out one command line: each command calls the operations API
//! and prints a table (coloured on a terminal) or JSON.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use eventsource::ops::{
    CheckReport, EventView, LifecycleReport, Operations, OpsError, ProjectionPhase, TailFrom,
    Until, registry_view,
};
use eventsource::projection::{ControlCommand, ControlRequest, ControlStatus};
use eventsource::store::{DeleteMode, EventFilter, StreamQuery};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::{
    Cli, Command, DeadLettersCommand, EventsCommand, MigrateAction, RegistryArgs, ResetArgs,
    SagaState, SagasCommand, StreamCommand, StreamsArgs, SubjectCommand, TailArgs,
};
use crate::exit::{Exit, exit_for};

/// `println!` that cannot panic: when standard output is a pipe whose reader
/// has gone (`myapp admin events tail | head`), the line is dropped instead.
/// A tail checks what [`write_line`] answers to stop early.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Writes one line and flushes it; false once the reader has gone, so a
/// following tail ends instead of writing into a closed pipe for ever.
fn write_line(text: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .is_ok()
}

/// Where output goes, and in which form.
pub(crate) struct Out {
    pub(crate) json: bool,
    colour: bool,
}

impl Out {
    pub(crate) fn new(json: bool) -> Self {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self { json, colour }
    }

    pub(crate) fn table(&self, header: &[&str]) -> Table {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_BORDERS_ONLY)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(header.iter().map(Cell::new));
        if !self.colour {
            table.force_no_tty();
        } else {
            table.enforce_styling();
        }
        table
    }

    pub(crate) fn print_json<T: Serialize>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => say!("{text}"),
            Err(error) => eprintln!("error: cannot print JSON: {error}"),
        }
    }

    /// One JSON value on a line; false once the reader has gone.
    fn line<T: Serialize>(&self, value: &T) -> bool {
        match serde_json::to_string(value) {
            Ok(text) => write_line(&text),
            Err(error) => {
                eprintln!("error: cannot print JSON: {error}");
                true
            }
        }
    }

    fn phase(&self, phase: ProjectionPhase) -> Cell {
        let cell = Cell::new(phase.as_str());
        match phase {
            ProjectionPhase::Live => cell.fg(Color::Green),
            ProjectionPhase::CatchingUp | ProjectionPhase::Rebuilding => cell.fg(Color::Yellow),
            ProjectionPhase::Paused | ProjectionPhase::Stopped => cell.fg(Color::Red),
            _ => cell,
        }
    }
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Runs `cli` on `ops`.
pub(crate) async fn execute(ops: &Operations, cli: Cli) -> Exit {
    let out = Out::new(cli.json);
    let timeout = Duration::from_secs_f64(cli.timeout.clamp(0.0, 86_400.0));
    let by = cli.by.as_deref();
    let result = match cli.command {
        Command::Migrate { action } => migrate(ops, &out, action).await,
        Command::Streams(args) => streams(ops, &out, args).await,
        Command::Stream {
            command:
                StreamCommand::Show {
                    id,
                    raw,
                    as_of_version,
                    as_of_time,
                },
        } => match ops.stream(&id, raw, as_of_version, as_of_time).await {
            Ok(events) => {
                show_events(&out, &events);
                Ok(Exit::Ok)
            }
            Err(error) => Err(error),
        },
        Command::Stream {
            command: StreamCommand::Delete { id, hard },
        } => {
            let mode = if hard {
                DeleteMode::Hard
            } else {
                DeleteMode::Soft
            };
            lifecycle(&out, ops.delete_stream(&id, mode).await)
        }
        Command::Subject {
            command: SubjectCommand::Forget { subject },
        } => match ops.forget_subject(&subject).await {
            Ok(had_key) => {
                if out.json {
                    out.print_json(&serde_json::json!({ "subject": subject, "had_key": had_key }));
                } else if had_key {
                    println!("forgot subject `{subject}`: its key is destroyed");
                } else {
                    println!("subject `{subject}` had no key; it is recorded as forgotten");
                }
                Ok(Exit::Ok)
            }
            Err(error) => Err(error),
        },
        Command::Stream {
            command: StreamCommand::Recreate { id },
        } => lifecycle(&out, ops.recreate_stream(&id).await),
        Command::Stream {
            command: StreamCommand::Truncate { id, before },
        } => lifecycle(&out, ops.truncate_stream(&id, before).await),
        Command::Events {
            command: EventsCommand::Tail(args),
        } => tail(ops, &out, args).await,
        Command::Projections {
            requests,
            partitions,
        } => projections(ops, &out, requests, partitions).await,
        Command::Pause(target) => {
            control(ops, &out, &target.name, ControlCommand::Pause, by, timeout).await
        }
        Command::Resume(target) => {
            control(ops, &out, &target.name, ControlCommand::Resume, by, timeout).await
        }
        Command::Rebuild(target) => rebuild(ops, &out, &target.name, by, timeout).await,
        Command::Reset(args) => reset(ops, &out, args, by, timeout).await,
        Command::DeadLetters { command } => dead_letters(ops, &out, command, by, timeout).await,
        Command::Sagas { command } => sagas(ops, &out, command).await,
        Command::Registry(args) => match registry_action(&args) {
            Some(action) => crate::registry::run(ops, out.json, &args, action).await,
            None => registry(ops, &out),
        },
        Command::Check => check(ops, &out).await,
        Command::Archive { command } => crate::archive::archive(ops, &out, command).await,
        Command::Truncate(args) => crate::archive::truncate(ops, &out, args).await,
    };
    match result {
        Ok(exit) => exit,
        Err(error) => {
            let exit = exit_for(&error);
            if out.json {
                out.print_json(&serde_json::json!({
                    "error": error.to_string(),
                    "exit_code": exit as u8,
                }));
            }
            eprintln!("error: {error}");
            exit
        }
    }
}

async fn migrate(ops: &Operations, out: &Out, action: MigrateAction) -> Result<Exit, OpsError> {
    let migrations = ops.migrations().ok_or_else(|| {
        OpsError::Unavailable("this store has no schema migrations (in memory)".to_owned())
    })?;
    match action {
        MigrateAction::Status => {
            let status = migrations.migration_status().await?;
            if out.json {
                out.print_json(&status);
            } else {
                let mut table = out.table(&["version", "name", "applied at"]);
                for m in &status {
                    let applied = match m.applied_at {
                        Some(at) => Cell::new(at.to_rfc3339()),
                        None => Cell::new("pending").fg(Color::Yellow),
                    };
                    table.add_row(vec![Cell::new(m.version), Cell::new(&m.name), applied]);
                }
                say!("{table}");
            }
        }
        MigrateAction::Apply => {
            let applied = migrations.apply_migrations().await?;
            if out.json {
                out.print_json(&serde_json::json!({ "applied": applied }));
            } else if applied.is_empty() {
                say!("nothing to apply: the schema is up to date");
            } else {
                say!("applied migrations {applied:?}");
            }
        }
        MigrateAction::Sql => {
            let sql = migrations.pending_sql().await?;
            if out.json {
                out.print_json(&serde_json::json!({ "sql": sql }));
            } else if sql.is_empty() {
                say!("-- nothing pending");
            } else {
                say!("{sql}");
            }
        }
    }
    Ok(Exit::Ok)
}

fn lifecycle(out: &Out, done: Result<LifecycleReport, OpsError>) -> Result<Exit, OpsError> {
    let report = done?;
    if out.json {
        out.print_json(&report);
        return Ok(Exit::Ok);
    }
    let what = match (report.operation, report.mode, report.tombstone) {
        ("delete", Some(mode), Some((version, position))) => format!(
            "deleted stream `{}` ({mode}): tombstone at version {version}, position {position}",
            report.stream_id
        ),
        ("truncate", _, _) => format!(
            "truncated stream `{}`: kept from version {}",
            report.stream_id,
            or_dash(report.first_kept_version)
        ),
        (operation, _, _) => format!("{operation}d stream `{}`", report.stream_id),
    };
    println!("{what}; {} events removed", report.removed);
    Ok(Exit::Ok)
}

async fn streams(ops: &Operations, out: &Out, args: StreamsArgs) -> Result<Exit, OpsError> {
    let query = StreamQuery {
        aggregate_type: args.aggregate_type,
        prefix: args.prefix,
        after: args.after,
        limit: args.limit,
    };
    let streams = ops.streams(&query).await?;
    if out.json {
        out.print_json(&streams);
    } else {
        let mut table = out.table(&["stream", "type", "version", "last position", "last change"]);
        for s in &streams {
            table.add_row(vec![
                Cell::new(&s.stream_id),
                Cell::new(&s.aggregate_type),
                Cell::new(s.version),
                Cell::new(s.last_position),
                Cell::new(s.last_recorded_at.to_rfc3339()),
            ]);
        }
        say!("{table}");
    }
    Ok(Exit::Ok)
}

fn show_events(out: &Out, events: &[EventView]) {
    if out.json {
        out.print_json(&events);
        return;
    }
    let mut table = out.table(&["version", "position", "event", "recorded", "payload"]);
    for e in events {
        let name = if e.stored_name != e.event_name || e.stored_version != e.schema_version {
            format!(
                "{} v{} (stored as {} v{})",
                e.event_name, e.schema_version, e.stored_name, e.stored_version
            )
        } else {
            format!("{} v{}", e.event_name, e.schema_version)
        };
        let payload = match &e.decode_error {
            Some(error) => {
                Cell::new(format!("cannot decode: {error}\n{}", e.payload)).fg(Color::Red)
            }
            None => Cell::new(e.payload.to_string()),
        };
        table.add_row(vec![
            Cell::new(e.stream_version),
            Cell::new(e.global_position),
            Cell::new(name),
            Cell::new(or_dash(e.recorded_at.map(|t| t.to_rfc3339()))),
            payload,
        ]);
    }
    say!("{table}");
}

async fn tail(ops: &Operations, out: &Out, args: TailArgs) -> Result<Exit, OpsError> {
    let from = match (args.from_position, args.from_time, args.last) {
        (Some(position), _, _) => TailFrom::Position(position),
        (None, Some(time), _) => TailFrom::Time(time),
        (None, None, last) => TailFrom::Last(last.unwrap_or(20)),
    };
    let mut filter = EventFilter::all();
    if !args.events.is_empty() {
        filter = filter.with_event_names(args.events.iter().map(String::as_str));
    }
    if !args.aggregate_types.is_empty() {
        filter = filter.with_aggregate_types(args.aggregate_types.iter().map(String::as_str));
    }
    let mut events = ops.tail(from, filter, args.raw, args.follow).await?;
    let mut shown = 0u64;
    while args.max.is_none_or(|max| shown < max) {
        let Some(event) = events.next().await else {
            break;
        };
        let event = event?;
        shown += 1;
        let open = if out.json {
            out.line(&event)
        } else {
            let problem = event
                .decode_error
                .as_ref()
                .map(|e| format!("  [cannot decode: {e}]"))
                .unwrap_or_default();
            write_line(&format!(
                "{:>12}  {}  {}@{}  {} v{}  {}{problem}",
                event.global_position,
                or_dash(event.recorded_at.map(|t| t.to_rfc3339())),
                event.stream_id,
                event.stream_version,
                event.event_name,
                event.schema_version,
                event.payload
            ))
        };
        if !open {
            break;
        }
    }
    Ok(Exit::Ok)
}

async fn projections(
    ops: &Operations,
    out: &Out,
    requests: bool,
    partitions: bool,
) -> Result<Exit, OpsError> {
    if requests {
        let requests = ops.requests(None, 50).await?;
        if out.json {
            out.print_json(&requests);
        } else {
            print_requests(out, &requests);
        }
        return Ok(Exit::Ok);
    }
    let infos = ops.projections().await?;
    if out.json {
        out.print_json(&infos);
        return Ok(Exit::Ok);
    }
    let mut table = out.table(&[
        "projection",
        "kind",
        "state",
        "checkpoint",
        "lag",
        "lag (s)",
        "owner",
        "lease until",
        "parked",
    ]);
    for info in &infos {
        let name = if info.version > 1 || !info.active {
            format!(
                "{}{}",
                info.slot,
                if info.active { " (active)" } else { "" }
            )
        } else {
            info.slot.clone()
        };
        let parked = Cell::new(info.parked);
        table.add_row(vec![
            Cell::new(name),
            Cell::new(format!("{:?}", info.kind).to_lowercase()),
            out.phase(info.phase),
            Cell::new(or_dash(info.checkpoint)),
            Cell::new(info.lag),
            Cell::new(format!("{:.1}", info.lag_seconds)),
            Cell::new(or_dash(info.owner)),
            Cell::new(or_dash(info.lease_expires_at.map(|t| t.to_rfc3339()))),
            if info.parked > 0 {
                parked.fg(Color::Red)
            } else {
                parked
            },
        ]);
        if !partitions {
            continue;
        }
        for part in &info.partitions {
            let parked = Cell::new(part.parked);
            table.add_row(vec![
                Cell::new(format!("  {}", part.slot)),
                Cell::new("partition"),
                Cell::new(if part.owner.is_some() { "held" } else { "free" }),
                Cell::new(or_dash(part.checkpoint)),
                Cell::new(part.lag),
                Cell::new(format!("{:.1}", part.lag_seconds)),
                Cell::new(or_dash(part.owner)),
                Cell::new(or_dash(part.lease_expires_at.map(|t| t.to_rfc3339()))),
                if part.parked > 0 {
                    parked.fg(Color::Red)
                } else {
                    parked
                },
            ]);
        }
    }
    say!("{table}");
    Ok(Exit::Ok)
}

fn print_requests(out: &Out, requests: &[ControlRequest]) {
    let mut table = out.table(&[
        "requested at",
        "projection",
        "command",
        "status",
        "by",
        "owner",
        "outcome",
    ]);
    for r in requests {
        table.add_row(vec![
            Cell::new(r.requested_at.to_rfc3339()),
            Cell::new(&r.projection),
            Cell::new(r.command),
            Cell::new(r.status),
            Cell::new(or_dash(r.requested_by.as_ref())),
            Cell::new(or_dash(r.handled_by)),
            Cell::new(or_dash(r.outcome.as_ref())),
        ]);
    }
    say!("{table}");
}

/// Records `command` and waits for its owner to carry it out.
async fn control(
    ops: &Operations,
    out: &Out,
    name: &str,
    command: ControlCommand,
    by: Option<&str>,
    timeout: Duration,
) -> Result<Exit, OpsError> {
    let request = ops.request(name, command, by).await?;
    if !out.json {
        eprintln!(
            "requested `{command}` of `{}` (request {}); waiting for its owner",
            request.projection, request.id
        );
    }
    let done = ops.await_request(request.id, Until::Final, timeout).await?;
    report_request(out, &done);
    Ok(Exit::Ok)
}

fn report_request(out: &Out, request: &ControlRequest) {
    if out.json {
        out.print_json(request);
    } else {
        say!(
            "{}: `{}` {} by owner {}{}",
            request.projection,
            request.command,
            request.status,
            or_dash(request.handled_by),
            request
                .outcome
                .as_ref()
                .map(|o| format!(": {o}"))
                .unwrap_or_default()
        );
    }
}

async fn reset(
    ops: &Operations,
    out: &Out,
    args: ResetArgs,
    by: Option<&str>,
    timeout: Duration,
) -> Result<Exit, OpsError> {
    let position = match (args.to_position, args.to_time) {
        (Some(position), _) => position,
        (None, Some(time)) => ops.position_before(time).await?,
        (None, None) => {
            return Err(OpsError::Invalid(
                "reset needs --to-position or --to-time".to_owned(),
            ));
        }
    };
    control(
        ops,
        out,
        &args.name,
        ControlCommand::Reset { position },
        by,
        timeout,
    )
    .await
}

/// Requests a rebuild and follows it with a progress bar until it is live.
async fn rebuild(
    ops: &Operations,
    out: &Out,
    name: &str,
    by: Option<&str>,
    timeout: Duration,
) -> Result<Exit, OpsError> {
    let request = ops.request(name, ControlCommand::Rebuild, by).await?;
    let slot = request.projection.clone();
    let taken = ops.await_request(request.id, Until::Taken, timeout).await?;
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} events, {per_sec}, ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(format!("rebuilding {slot}"));
        bar
    };
    let mut current = taken;
    while current.status == ControlStatus::Running {
        if let Ok(info) = ops.projection(&slot).await
            && let Some(rebuild) = info.rebuild
        {
            bar.set_length(rebuild.total);
            bar.set_position(rebuild.done);
        }
        // The replay has no deadline: it takes what the log takes.
        match ops
            .await_request(request.id, Until::Final, Duration::from_millis(500))
            .await
        {
            Ok(done) => current = done,
            Err(OpsError::Timeout { .. }) => {}
            Err(error) => {
                bar.abandon();
                return Err(error);
            }
        }
    }
    bar.set_position(bar.length().unwrap_or(0));
    bar.finish_and_clear();
    report_request(out, &current);
    Ok(Exit::Ok)
}

async fn dead_letters(
    ops: &Operations,
    out: &Out,
    command: Option<DeadLettersCommand>,
    by: Option<&str>,
    timeout: Duration,
) -> Result<Exit, OpsError> {
    match command.unwrap_or(DeadLettersCommand::List { projection: None }) {
        DeadLettersCommand::List { projection } => {
            let letters = ops.dead_letters(projection.as_deref()).await?;
            if out.json {
                out.print_json(&letters);
            } else {
                let mut table = out.table(&[
                    "projection",
                    "position",
                    "stream",
                    "event",
                    "attempts",
                    "parked at",
                    "reason",
                ]);
                for d in &letters {
                    let p = &d.parked;
                    table.add_row(vec![
                        Cell::new(&p.projection),
                        Cell::new(p.global_position),
                        Cell::new(format!("{}@{}", p.stream_id, p.stream_version)),
                        Cell::new(format!("{} v{}", p.event_name, p.schema_version)),
                        Cell::new(p.attempts),
                        Cell::new(p.parked_at.to_rfc3339()),
                        Cell::new(&p.error).fg(Color::Red),
                    ]);
                }
                say!("{table}");
            }
        }
        DeadLettersCommand::Show {
            projection,
            position,
        } => {
            let letter = ops.dead_letter(&projection, position).await?;
            if out.json {
                out.print_json(&letter);
            } else {
                let p = &letter.parked;
                say!(
                    "projection:     {} (version {})",
                    p.projection,
                    letter.version
                );
                say!("position:       {}", p.global_position);
                say!("event id:       {}", p.event_id);
                say!(
                    "stream:         {} at version {}",
                    p.stream_id,
                    p.stream_version
                );
                say!("event:          {} v{}", p.event_name, p.schema_version);
                say!(
                    "recorded at:    {}",
                    or_dash(p.recorded_at.map(|t| t.to_rfc3339()))
                );
                say!(
                    "parked at:      {} after {} attempt(s)",
                    p.parked_at.to_rfc3339(),
                    p.attempts
                );
                say!("reason:         {}", p.error);
                say!("metadata:       {}", p.metadata);
                say!("payload:        {}", p.payload);
            }
        }
        DeadLettersCommand::Retry {
            projection,
            position,
            all: _,
        } => {
            let request = ops.retry(&projection, position, by).await?;
            let done = ops.await_request(request.id, Until::Final, timeout).await?;
            report_request(out, &done);
        }
        DeadLettersCommand::Skip {
            projection,
            position,
            reason,
        } => {
            let letter = ops.skip(&projection, position, &reason, by).await?;
            if out.json {
                out.print_json(&serde_json::json!({
                    "skipped": letter,
                    "reason": reason,
                }));
            } else {
                say!(
                    "skipped the event at position {position} of `{}`: {reason}",
                    letter.parked.projection
                );
            }
        }
        DeadLettersCommand::Skipped { projection } => {
            let skipped = ops.skipped(&projection).await?;
            if out.json {
                out.print_json(&skipped);
            } else {
                let mut table =
                    out.table(&["position", "event", "skipped at", "by", "reason", "error"]);
                for s in &skipped {
                    table.add_row(vec![
                        Cell::new(s.parked.global_position),
                        Cell::new(&s.parked.event_name),
                        Cell::new(s.skipped_at.to_rfc3339()),
                        Cell::new(or_dash(s.skipped_by.as_ref())),
                        Cell::new(&s.reason),
                        Cell::new(&s.parked.error),
                    ]);
                }
                say!("{table}");
            }
        }
    }
    Ok(Exit::Ok)
}

async fn sagas(
    ops: &Operations,
    out: &Out,
    command: Option<SagasCommand>,
) -> Result<Exit, OpsError> {
    match command.unwrap_or(SagasCommand::List {
        saga: None,
        state: None,
    }) {
        SagasCommand::List { saga, state } => {
            let completed = state.map(|s| s == SagaState::Completed);
            let instances = ops.saga_instances(saga.as_deref(), completed).await?;
            if out.json {
                out.print_json(&instances);
            } else {
                let mut table = out.table(&["saga", "correlation id", "state", "updated at"]);
                for i in &instances {
                    let state = if i.completed {
                        Cell::new("completed")
                    } else {
                        Cell::new("running").fg(Color::Yellow)
                    };
                    table.add_row(vec![
                        Cell::new(&i.saga),
                        Cell::new(i.correlation_id),
                        state,
                        Cell::new(i.updated_at.to_rfc3339()),
                    ]);
                }
                say!("{table}");
            }
        }
        SagasCommand::Show {
            saga,
            correlation_id,
        } => {
            let instance = ops.saga_instance(&saga, correlation_id).await?;
            if out.json {
                out.print_json(&instance);
            } else {
                say!("saga:           {}", instance.saga);
                say!("correlation id: {}", instance.correlation_id);
                say!(
                    "state:          {}",
                    if instance.completed {
                        "completed"
                    } else {
                        "running"
                    }
                );
                say!("updated at:     {}", instance.updated_at.to_rfc3339());
                say!(
                    "{}",
                    serde_json::to_string_pretty(&instance.state).unwrap_or_default()
                );
            }
        }
    }
    Ok(Exit::Ok)
}

/// The flag of `registry` that asks for more than its tables.
fn registry_action(args: &RegistryArgs) -> Option<crate::registry::Action> {
    use crate::registry::Action;
    [
        (args.graph, Action::Graph),
        (args.catalogue, Action::Catalogue),
        (args.check_lock, Action::CheckLock),
        (args.update_lock, Action::UpdateLock),
        (args.check_payloads, Action::CheckPayloads),
    ]
    .into_iter()
    .find_map(|(on, action)| on.then_some(action))
}

fn registry(ops: &Operations, out: &Out) -> Result<Exit, OpsError> {
    let view = registry_view(ops.registry());
    if out.json {
        out.print_json(&view);
    } else {
        let mut events = out.table(&["event", "version", "aliases", "upcasters", "type"]);
        for e in &view.events {
            events.add_row(vec![
                e.name.clone(),
                e.version.to_string(),
                e.aliases.join(", "),
                e.upcasters
                    .iter()
                    .map(|u| format!("{}→{} {}", u.from, u.to, u.function))
                    .collect::<Vec<_>>()
                    .join("\n"),
                e.rust_type.clone(),
            ]);
        }
        say!("events\n{events}");
        let mut aggregates = out.table(&["aggregate", "events", "snapshot every", "type"]);
        for a in &view.aggregates {
            aggregates.add_row(vec![
                a.name.clone(),
                a.events.join(", "),
                or_dash(a.snapshot_every),
                a.rust_type.clone(),
            ]);
        }
        say!("aggregates\n{aggregates}");
        let mut commands = out.table(&["command", "aggregate", "type"]);
        for c in &view.commands {
            commands.add_row(vec![
                c.name.clone(),
                c.aggregate.clone(),
                c.rust_type.clone(),
            ]);
        }
        say!("commands\n{commands}");
        for (title, handlers) in [("projections", &view.projections), ("sagas", &view.sagas)] {
            let mut table = out.table(&["name", "version", "events", "type"]);
            for h in handlers {
                table.add_row(vec![
                    h.name.clone(),
                    h.version.to_string(),
                    h.events.join(", "),
                    h.rust_type.clone(),
                ]);
            }
            say!("{title}\n{table}");
        }
        if view.problems.is_empty() {
            say!("validation: no problems");
        } else {
            say!("validation: {} problem(s)", view.problems.len());
            for problem in &view.problems {
                say!("  - {problem}");
            }
        }
    }
    Ok(if view.problems.is_empty() {
        Exit::Ok
    } else {
        Exit::Problems
    })
}

async fn check(ops: &Operations, out: &Out) -> Result<Exit, OpsError> {
    let report: CheckReport = ops.check().await?;
    if out.json {
        out.print_json(&report);
    } else if report.passed() {
        say!(
            "ok: this program decodes every event in the store ({} events, {} names and versions)",
            report.events,
            report.scanned
        );
    } else {
        let mut table = out.table(&[
            "event",
            "version",
            "count",
            "positions",
            "problem",
            "read by",
        ]);
        for p in &report.problems {
            table.add_row(vec![
                Cell::new(&p.stored.event_name),
                Cell::new(p.stored.schema_version),
                Cell::new(p.stored.count),
                Cell::new(format!(
                    "{}..{}",
                    p.stored.first_position, p.stored.last_position
                )),
                Cell::new(&p.message).fg(Color::Red),
                Cell::new(if p.read_by.is_empty() {
                    "nothing in this program".to_owned()
                } else {
                    p.read_by.join(", ")
                }),
            ]);
        }
        say!("{table}");
        say!(
            "{} of {} stored names and versions cannot be decoded by this program",
            report.problems.len(),
            report.scanned
        );
    }
    Ok(if report.passed() {
        Exit::Ok
    } else {
        Exit::Problems
    })
}
