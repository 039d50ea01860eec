//! The command line: what `myapp admin ...` accepts.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES;

/// Operations on this application's event store, projections and sagas.
#[derive(Debug, Parser)]
#[command(name = "admin", after_help = EXIT_CODES, disable_version_flag = true)]
pub struct Cli {
    /// Print JSON (one document; `events tail` prints one line per event).
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait, in seconds, for the instance owning a projection
    /// to take a request up.
    #[arg(long, global = true, default_value_t = 30.0)]
    pub timeout: f64,
    /// Who is asking, recorded with control requests and skips.
    #[arg(long, global = true, env = "EVENTSOURCE_ADMIN_USER")]
    pub by: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Schema migrations: status (default), apply, or print the pending SQL.
    Migrate {
        /// What to do.
        #[arg(value_enum, default_value_t = MigrateAction::Status)]
        action: MigrateAction,
    },
    /// Streams, by id, with their version and last change.
    Streams(StreamsArgs),
    /// One stream.
    Stream {
        /// What to show.
        #[command(subcommand)]
        command: StreamCommand,
    },
    /// Subjects of personal data (crypto-shredding).
    Subject {
        /// What to do.
        #[command(subcommand)]
        command: SubjectCommand,
    },
    /// The global log.
    Events {
        /// What to show.
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Projections and sagas: state, checkpoint, lag, owner, parked events
    /// (of a partitioned one, folded from its partitions: the lowest
    /// checkpoint, the summed lag).
    Projections {
        /// List the recent control requests instead.
        #[arg(long)]
        requests: bool,
        /// Add a row for each partition of a partitioned projection (its
        /// owner, checkpoint and lag); `--json` always lists them.
        #[arg(long, conflicts_with = "requests")]
        partitions: bool,
    },
    /// Pause a projection (its owner stops after the current batch, keeping the lease).
    Pause(Target),
    /// Resume a paused projection.
    Resume(Target),
    /// Clear a projection's read model and replay the log, with progress.
    Rebuild(Target),
    /// Move a projection's checkpoint (its read model is kept; the events
    /// after the checkpoint are handled again).
    Reset(ResetArgs),
    /// Events a projection gave up on.
    DeadLetters {
        /// What to do (default: list).
        #[command(subcommand)]
        command: Option<DeadLettersCommand>,
    },
    /// Saga instances.
    Sagas {
        /// What to show (default: list).
        #[command(subcommand)]
        command: Option<SagasCommand>,
    },
    /// Events, aggregates, commands, projections and sagas of this program,
    /// and the validation report; with a flag, the event-flow graph, the
    /// event catalogue, the schema lock or the stored payloads' check.
    Registry(RegistryArgs),
    /// Report every event name and schema version in the store this program
    /// cannot decode.
    Check,
    /// The archive: move the older events of old streams out of the hot
    /// log, see what it holds, export it to files.
    Archive {
        /// What to do.
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Truncate every stream of an aggregate type to its last versions,
    /// behind its snapshot (streams without one are left whole).
    Truncate(TruncateArgs),
}

/// `archive` commands.
#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Archive the streams of a type whose last event is older than an
    /// age: every event but each stream's last moves to the archive, a
    /// small batch of streams per transaction, with progress. Safe to run
    /// again after a crash: it finishes what is left.
    Run(ArchiveRunArgs),
    /// What the archive holds, by range.
    Status,
    /// Write archived events to gzip-compressed JSON-lines files with a
    /// manifest.
    Export(ExportArgs),
}

/// Which streams `archive run` archives.
#[derive(Debug, Args)]
pub struct ArchiveRunArgs {
    /// The aggregate type.
    #[arg(long = "type")]
    pub aggregate_type: String,
    /// Only streams whose last event is older than this many seconds.
    #[arg(long)]
    pub older_than: u64,
    /// Streams per transaction.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Milliseconds to wait between batches (to spread the load).
    #[arg(long, default_value_t = 0)]
    pub pause_ms: u64,
}

/// What `archive export` writes.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The directory (created if missing).
    pub dir: PathBuf,
    /// From this global position.
    #[arg(long, default_value_t = 1)]
    pub from_position: u64,
    /// Up to this global position (inclusive; default: the end).
    #[arg(long)]
    pub to_position: Option<u64>,
    /// Events per file.
    #[arg(long, default_value_t = 100_000)]
    pub events_per_file: u64,
}

/// Which streams `truncate` truncates.
#[derive(Debug, Args)]
pub struct TruncateArgs {
    /// The aggregate type.
    #[arg(long = "type")]
    pub aggregate_type: String,
    /// How many of each stream's latest versions to keep.
    #[arg(long)]
    pub keep_last: u64,
}

/// What `registry` shows or checks (default: its tables).
#[derive(Debug, Default, Args)]
#[command(group(
    ArgGroup::new("action")
        .multiple(false)
        .args(["graph", "catalogue", "check_lock", "update_lock", "check_payloads"])
))]
pub struct RegistryArgs {
    /// The event flow: commands → aggregates → events → projections and
    /// sagas → the commands sagas dispatch.
    #[arg(long)]
    pub graph: bool,
    /// The graph's format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// The event catalogue, as Markdown (as JSON with --json).
    #[arg(long)]
    pub catalogue: bool,
    /// Compare the events' schemas with the lock file; exit 3 on a
    /// breaking change or a lock out of date.
    #[arg(long)]
    pub check_lock: bool,
    /// Record the compatible schema changes in the lock file (created if
    /// missing); refuse, exit 3, on a breaking one.
    #[arg(long)]
    pub update_lock: bool,
    /// The lock file.
    #[arg(long, default_value = "events.lock.json")]
    pub lock: PathBuf,
    /// Validate stored payloads against the schema of their recorded
    /// version (from the code, else from the lock file if present).
    #[arg(long)]
    pub check_payloads: bool,
    /// With --check-payloads: validate one stored event in this many.
    #[arg(long, default_value_t = 1)]
    pub sample: u64,
}

/// The formats of `registry --graph`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart.
    #[default]
    Mermaid,
    /// An SVG drawing.
    Svg,
    /// JSON: nodes and edges.
    Json,
}

/// What `migrate` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MigrateAction {
    /// Show each migration and whether it is applied.
    Status,
    /// Apply the pending migrations.
    Apply,
    /// Print the SQL of the pending migrations.
    Sql,
}

/// Which streams `streams` lists.
#[derive(Debug, Args)]
pub struct StreamsArgs {
    /// Only streams of this aggregate type.
    #[arg(long = "type")]
    pub aggregate_type: Option<String>,
    /// Only streams whose id starts with this.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Only streams whose id sorts after this one (the next page).
    #[arg(long)]
    pub after: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// `stream` commands.
#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// A stream's events, decoded through upcasters and aliases.
    Show {
        /// The stream id.
        id: String,
        /// As stored: name, version and payload untouched.
        #[arg(long)]
        raw: bool,
        /// Only up to this version.
        #[arg(long)]
        as_of_version: Option<u64>,
        /// Only events recorded up to this time (RFC 3339).
        #[arg(long)]
        as_of_time: Option<DateTime<Utc>>,
    },
    /// Delete a stream: a tombstone ends it (projections are told), and
    /// with `--hard` its earlier events and snapshot are removed.
    Delete {
        /// The stream id.
        id: String,
        /// Remove the events too (by default they stay readable).
        #[arg(long)]
        hard: bool,
    },
    /// Make a deleted stream writable again: every record of it, tombstone
    /// included, is removed, and it starts over at version 1.
    Recreate {
        /// The stream id.
        id: String,
    },
    /// Remove a stream's events before a version (the rest stay). Load
    /// aggregates through the application's truncation, which saves the
    /// snapshot they need first.
    Truncate {
        /// The stream id.
        id: String,
        /// The first version kept.
        #[arg(long)]
        before: u64,
    },
}

/// `subject` commands.
#[derive(Debug, Subcommand)]
pub enum SubjectCommand {
    /// Destroy a subject's key: its personal data reads as the declared
    /// replacements from then on, and it can have no new personal events.
    /// Rebuild the projections that hold its personal data afterwards.
    Forget {
        /// The subject, as its events' subject field names it.
        subject: String,
    },
}

/// `events` commands.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// The log from a position or a time (default: the last 20 events).
    Tail(TailArgs),
}

/// Where and what `events tail` reads.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// From this global position.
    #[arg(long, conflicts_with_all = ["from_time", "last"])]
    pub from_position: Option<u64>,
    /// From this time (RFC 3339).
    #[arg(long, conflicts_with = "last")]
    pub from_time: Option<DateTime<Utc>>,
    /// The last N events (the default, with 20).
    #[arg(long)]
    pub last: Option<u64>,
    /// Then wait for new events.
    #[arg(long)]
    pub follow: bool,
    /// Stop after this many events.
    #[arg(long)]
    pub max: Option<u64>,
    /// Only events with this name (repeat for several).
    #[arg(long = "event")]
    pub events: Vec<String>,
    /// Only events of streams of this aggregate type (repeat for several).
    #[arg(long = "type")]
    pub aggregate_types: Vec<String>,
    /// As stored.
    #[arg(long)]
    pub raw: bool,
}

/// A projection or saga: `name` (its active version) or `name@vN`.
#[derive(Debug, Args)]
pub struct Target {
    /// The projection or saga.
    pub name: String,
}

/// Where `reset` moves the checkpoint.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The projection.
    pub name: String,
    /// To this position (0: the start).
    #[arg(long, conflicts_with = "to_time", required_unless_present = "to_time")]
    pub to_position: Option<u64>,
    /// To just before the first event recorded at or after this time (RFC 3339).
    #[arg(long)]
    pub to_time: Option<DateTime<Utc>>,
}

/// `dead-letters` commands.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// The parked events, of one projection or all.
    List {
        /// Only this projection's.
        #[arg(long)]
        projection: Option<String>,
    },
    /// One parked event: the raw record and the reason.
    Show {
        /// The projection.
        projection: String,
        /// The event's global position.
        position: u64,
    },
    /// Run a parked event (or all of a projection's) again, on the owner.
    Retry {
        /// The projection.
        projection: String,
        /// The event's global position.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        position: Option<u64>,
        /// Every parked event of the projection.
        #[arg(long)]
        all: bool,
    },
    /// Skip a parked event for good, recording why.
    Skip {
        /// The projection.
        projection: String,
        /// The event's global position.
        position: u64,
        /// Why (kept with the event).
        #[arg(long)]
        reason: String,
    },
    /// The events skipped for a projection, with the reasons.
    Skipped {
        /// The projection.
        projection: String,
    },
}

/// Which instances `sagas list` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SagaState {
    /// Not ended.
    Running,
    /// Ended.
    Completed,
}

/// `sagas` commands.
#[derive(Debug, Subcommand)]
pub enum SagasCommand {
    /// Instances, of one saga or all, by state.
    List {
        /// Only this saga's.
        #[arg(long)]
        saga: Option<String>,
        /// Only instances in this state.
        #[arg(long, value_enum)]
        state: Option<SagaState>,
    },
    /// One instance.
    Show {
        /// The saga.
        saga: String,
        /// The instance's correlation id.
        correlation_id: uuid::Uuid,
    },
}
