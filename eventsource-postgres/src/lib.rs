//! PostgreSQL stores for eventsource: events, snapshots, checkpoints and
//! live subscriptions, on [sqlx](https://docs.rs/sqlx).
//!
//! [`PgEventStore`] implements [`EventStore`](eventsource::EventStore),
//! [`SnapshotStore`](eventsource::SnapshotStore) and
//! [`CheckpointStore`](eventsource::CheckpointStore), and passes the
//! runtime's conformance suite (`eventsource::testing::conformance`) like the
//! in-memory store. All queries are built at run time (`sqlx::query`, never
//! `query!`), so building never needs a database.
//!
//! ```no_run
//! use eventsource::prelude::*;
//! use eventsource::store::SubscriptionItem;
//! use eventsource_postgres::{PgEventStore, PgStoreOptions};
//! use futures::StreamExt;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let options = PgStoreOptions::new("shop")?;
//! let store = PgEventStore::connect_with("postgres://app@localhost/app", options).await?;
//! store.migrate().await?; // explicit: creates schema `shop` and its tables
//!
//! let placed = NewEvent::new("shop.OrderPlaced", 1, r#"{"total":42}"#, Metadata::new());
//! store.append("order-7", "shop.Order", ExpectedVersion::NoStream, vec![placed]).await?;
//!
//! // Everything so far, then new events as they commit, in one global order.
//! let mut live = store.subscribe(0, EventFilter::all());
//! while let Some(item) = live.next().await {
//!     match item? {
//!         SubscriptionItem::Event(e) => println!("{} at {}", e.event_name, e.global_position),
//!         SubscriptionItem::CaughtUp { position } => println!("caught up to {position}"),
//!         SubscriptionItem::Corrupt(record) => {
//!             println!("unreadable record at {}: {}", record.global_position, record.reason)
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Requirements
//!
//! PostgreSQL 13 or later: the store relies on the 64-bit transaction ids
//! (`xid8`) and the functions over them, `pg_current_xact_id()`,
//! `pg_current_snapshot()`, `pg_snapshot_xmin()` and `pg_snapshot_xmax()`,
//! which arrived in version 13.
//!
//! # Tables
//!
//! [`PgEventStore::migrate`] creates, under the configured schema (default
//! `eventsource`; validated against `^[a-z_][a-z0-9_]{0,62}$` and always
//! quoted), from SQL files embedded in the crate ([`migrate::MIGRATIONS`]):
//!
//! - `events`: `global_position` (primary key), `transaction_id` (`xid8`),
//!   `stream_id`, `aggregate_type`, `stream_version`, `event_id` (unique),
//!   `event_name`, `schema_version`, `payload` (`json`), `metadata` (`json`),
//!   `recorded_at` (`clock_timestamp()`); unique (`stream_id`,
//!   `stream_version`); indexes for reads by aggregate type and by time;
//!   `stream_bucket`, generated from the stream id (the first two bytes of
//!   `md5(stream_id)` modulo 1024, as `eventsource::store::stream_bucket`
//!   computes it), indexed with the position, for partitioned readers;
//! - `projection_members`: the runners sharing a partitioned projection,
//!   each until its heartbeat expires;
//! - `snapshots`: the latest snapshot per stream, its `state` in `json` (a
//!   save never replaces a higher version);
//! - `checkpoints`: the last position per named consumer (never moves back
//!   except through a reset);
//! - `schema_migrations`: what has been applied;
//! - `read_model_migrations`: the steps each [`PgReadModel`] applied;
//! - `saga_deadlines`: saga deadlines waiting to fire (see
//!   `eventsource::saga::DeadlineStore`, implemented by [`PgSagaStore`]);
//! - `events_archive`: archived events (see `eventsource::store::archive`),
//!   the columns of `events` and `archived_at`, partitioned by ranges of
//!   2³⁸ positions (`events_archive_<n>`, made on demand by the
//!   `archive_partitions` function). Global reads page over both tables in
//!   one statement; appends, stream versions and the head read `events`
//!   alone, since a stream's last event is never archived.
//!
//! Read models name their own tables through [`PgReadModel`]; tenants each
//! get a schema of their own through [`PgTenants`], or share one through
//! [`PgConjoined`]: every tenant-owned table has a `tenant_id` column (the
//! last part of its unique keys), and a schema made conjoined by
//! [`PgConjoined::install`] has forced row-level security policies that
//! confine a session to the tenant of its setting `eventsource.tenant`
//! (rows written without one, and all rows from before, are the `default`
//! tenant's). Schemas that never run that step have no policies to pay for.
//!
//! Migrations run in one transaction under an advisory lock, so several
//! processes may call `migrate` at start-up.
//!
//! # Payload columns
//!
//! Payloads, metadata and snapshot states are `json` columns: PostgreSQL
//! checks that each is JSON when it is written and hands back the text as
//! written, so they read back byte for byte. The store never looks inside
//! them, and every read returns them as text: `jsonb` would parse each one
//! into its binary form on the way in and print it back on every read,
//! which measured a quarter of the server's time in catch-up and loads.
//! Benchmark workload 11 (`BENCHMARKS.md`) has the figures: a 10,000-event
//! stream read from `json` columns about 1.6 times as fast as from `jsonb`,
//! and batches appended as fast or a little faster.
//!
//! `jsonb` remains an option for a store whose payloads are queried in SQL
//! (`@>`, `jsonb_path_query`, GIN indexes). The store works the same on
//! either type: its statements write through `::json`, which PostgreSQL
//! assigns to a `jsonb` column as well, and read `::text`. Change both
//! event tables together, since global reads take them in one `UNION ALL`
//! (the archive's partitions follow its parent):
//!
//! ```sql
//! ALTER TABLE shop.events
//!     ALTER COLUMN payload TYPE jsonb, ALTER COLUMN metadata TYPE jsonb;
//! ALTER TABLE shop.events_archive
//!     ALTER COLUMN payload TYPE jsonb, ALTER COLUMN metadata TYPE jsonb;
//! ```
//!
//! `metadata` is read by the row-level security policy of a conjoined
//! schema, which blocks a change of its type: drop the policy
//! `tenant_inserts` of `events` first and run [`PgConjoined::install`]
//! again afterwards, or change `payload` alone. On `jsonb`, payloads read
//! back as equal JSON but not byte for byte (key order, spacing and number
//! forms may change), and `\u0000` is refused by the server as well as by
//! the store.
//!
//! Stores created before migration 13 had `jsonb` columns. The migration
//! converts each column unless something depends on it in either table or
//! any archive partition (an index, a view, a trigger, statistics): a
//! store with such a column queries it and keeps its type (PostgreSQL
//! prints a notice naming it). Row-level security policies on a converted
//! column are made again as they were. Converting rewrites the tables under
//! an exclusive lock; to keep `jsonb`, or to convert at a better time,
//! record the migration as applied before upgrading:
//! `INSERT INTO shop.schema_migrations (version, name) VALUES (13, 'json payloads')`.
//! Rows converted read back as `jsonb` last printed them.
//!
//! # Appending
//!
//! One append is one SQL statement, so one round trip, for any batch size:
//! the batch travels as parallel arrays that `UNNEST … WITH ORDINALITY`
//! turns into rows. The same statement reads the stream's last version and
//! inserts only if the expectation holds; the unique (stream, version)
//! constraint settles races between appends that read the same version.
//! Either way the loser gets [`StoreError::Conflict`](eventsource::StoreError::Conflict)
//! with the stream's actual version, exactly as from the in-memory store.
//! An [`Any`](eventsource::ExpectedVersion::Any) append that loses a race
//! simply runs again.
//!
//! Retries are safe: a batch whose event ids are already stored, as that
//! batch in that stream, is not written again but answered with the stored
//! positions and `replayed: true` — even when the retry's expectation no
//! longer holds because the first attempt succeeded. Ids stored any other
//! way give [`StoreError::DuplicateEvent`](eventsource::StoreError::DuplicateEvent).
//!
//! [`PgEventStore::append_in`] runs the same statement inside a transaction
//! of the caller's (to commit events with other writes atomically). There a
//! retry of a batch that an earlier transaction committed is not answered
//! with a replayed success but with
//! [`StoreError::AlreadyStored`](eventsource::StoreError::AlreadyStored):
//! the earlier transaction committed its other writes too, and when the
//! duplicate is only found at insert time PostgreSQL has aborted the
//! caller's transaction, whose `COMMIT` would silently roll back. The
//! statement looks for the ids before inserting, so in the usual case (a
//! retry after a lost reply) the transaction stays intact; the error says
//! which case it was.
//!
//! # A global order without gaps
//!
//! Subscribers read the log in `global_position` order and must never skip
//! an event, even one whose transaction commits after a later-numbered
//! event became visible. Numbering with a sequence cannot promise that by
//! itself: sequence values are taken at insert but become visible at
//! commit, in any order. Serialising appends (a global lock) would, but it
//! also serialises every commit's flush to disk, which caps throughput far
//! below what the server can do. This store instead derives positions from
//! transaction ids, which PostgreSQL already tracks for visibility, and lets
//! readers ask which of them are settled.
//!
//! **Positions.** An append in transaction `x` (its id, `pg_current_xact_id()`)
//! numbers its events `x · 65536 + i`, with `i` counting from 1 within the
//! transaction (a second append in the same transaction continues after the
//! first, found with one index probe). Transactions own disjoint ranges, so
//! positions are unique, and they increase within a transaction; they are
//! not contiguous.
//!
//! **The horizon.** A reader computes `H = xmin · 65536`, where `xmin` is
//! the oldest transaction id still running in its statement's snapshot
//! (`pg_snapshot_xmin(pg_current_snapshot())`), and delivers only rows with
//! positions below `H`, in position order.
//!
//! **Why nothing is ever skipped.** Take a snapshot `S` and its horizon `H`.
//! 1. A row below `H` was written by a transaction whose id is below
//!    `xmin(S)`.
//! 2. Every transaction with an id below `xmin(S)` had finished when `S` was
//!    taken — that is what `xmin` means. Its rows are therefore visible to
//!    `S` if it committed, and can never become visible if it aborted; being
//!    finished, it cannot write again.
//! 3. Every transaction that can still write has an id of at least `xmin(S)`:
//!    either it was running when `S` was taken, or it gets its id later, and
//!    ids are handed out in increasing order, above every id running in `S`.
//!    So all rows it may still commit lie at or above `H`.
//!
//! Hence the rows below `H` are *final*: `S` sees exactly the rows that will
//! ever exist there, and any later statement sees the same. A reader that
//! has delivered everything below `H`, in order, can never afterwards meet a
//! row below its last delivered position. It continues from there with a
//! later horizon; each row is read once because every read starts strictly
//! after the last position delivered. No timer is involved: the only wait
//! is for transactions that may still commit events in the range.
//!
//! **Stream order agrees with global order.** A reader of a stream's events
//! in global order (a projection) must see version `n` before `n + 1`. The
//! append statement enforces it: it inserts only if the stream's last event
//! sits below the positions it is about to use, and otherwise refuses. One
//! might expect that never to trigger, since a writer of version `n + 1` saw
//! version `n` committed; but a transaction can receive its id *before* the
//! snapshot it reads with — a caller's transaction that wrote something
//! earlier, or even a single statement whose id PostgreSQL assigned while
//! planning it. The store avoids the latter by computing the id in a
//! materialized CTE, and retries its own refused appends in a new
//! transaction; `append_in` reports the refusal as
//! [`StoreError::Invalid`](eventsource::StoreError::Invalid), asking the
//! caller to retry in a new transaction.
//!
//! **The cost.** Transaction ids are shared by the whole server, so *any*
//! transaction holding an id — in any database of the cluster, whether or
//! not it touches events — holds the horizon back while it runs, and new
//! events wait (unskipped) until it finishes. The general rule: *every
//! transaction that writes anywhere in the cluster delays every subscriber
//! by as long as it stays open.* Appends are short. The transactions of
//! this crate's projection backend (a read model's batch, a saga's
//! checkpoint) are bounded by the runner's lease TTL: each sets
//! `idle_in_transaction_session_timeout` and `statement_timeout` to it, so
//! a projection process frozen mid-batch (SIGSTOP, a debugger, a handler
//! stuck on I/O) delays subscribers by at most about the TTL, after which
//! the server ends its transaction and a standby takes over (the fault
//! suite measures it). Keep your own writing transactions short too, and
//! set `idle_in_transaction_session_timeout` on the roles that run them,
//! against forgotten sessions.
//! Prepared transactions (two-phase commit, `PREPARE TRANSACTION`) keep
//! their id until someone runs `COMMIT PREPARED` or `ROLLBACK PREPARED`,
//! across disconnects and restarts: an orphaned one, whose coordinator is
//! gone, holds every reader back *forever*. Leave
//! `max_prepared_transactions` at 0 unless you use two-phase commit, and
//! watch `pg_prepared_xacts` if you do. When committed events have waited
//! for [`PgStoreOptions::with_stall_warning`] (30 s by default), each
//! waiting reader logs one `tracing` warning naming what holds them: the
//! backend's pid, state, transaction age and query, the prepared
//! transaction's `gid`, or a transaction-id counter behind the stored
//! positions (see [Moving a database](#moving-a-database)). One
//! transaction can append at most 65,535 events (larger batches are
//! refused as invalid), and positions fit PostgreSQL's `bigint` for the
//! first 2⁴⁷ transaction ids, about 140 trillion transactions.
//!
//! # Moving a database
//!
//! Positions are only as monotonic as the cluster's transaction-id counter
//! (64 bits in `xid8`: a 32-bit id and an epoch). If the counter is ever
//! behind the stored positions, new events are numbered below positions
//! that subscribers and checkpoints have already passed, and are skipped
//! for good; readers also wait, possibly for a very long time, for the
//! "older" transactions that might still commit below the head.
//!
//! Safe, because the counter travels with the data:
//! - `pg_upgrade`, which carries the next transaction id and its epoch over
//!   to the new cluster;
//! - physical replication, and failover to a standby that has replayed
//!   every commit;
//! - restoring a physical base backup (with or without point-in-time
//!   recovery) into the cluster's place.
//!
//! Not safe, because the data arrives in a cluster with its own counter:
//! - `pg_dump`/`pg_restore` (or any copy of the rows) into another cluster;
//! - logical replication into another cluster, including major-version
//!   upgrades and blue/green switchovers built on it;
//! - `pg_resetwal` with a lower next transaction id or epoch.
//!
//! [`PgEventStore::migrate`], every store value's first append (and its
//! first after an append lost its connection) and
//! [`PgEventStore::check_transaction_ids`] compare the next transaction id
//! with the highest stored position, and refuse, before anything is
//! written, with [`TransactionIdsBehind`] inside
//! [`StoreError::Backend`](eventsource::StoreError::Backend). The fix is to
//! move the counter past the stored ids: stop the new cluster cleanly and
//! run `pg_resetwal -e E` with the epoch `E` the error names
//! ([`TransactionIdsBehind::required_epoch`]). The epoch is stored nowhere
//! but in that counter, so raising it is harmless to PostgreSQL; each
//! epoch step adds 2³² ids, so the positions stay far inside `bigint`.
//! Where `pg_resetwal` is not available (managed services), consume ids
//! until the counter passes (one `SELECT pg_current_xact_id()` per
//! transaction; practical for small gaps only), or contact the provider.
//!
//! The check sees this schema's events only. After a failover that lost
//! commits, or a restore to an earlier point in time, the stored events
//! are consistent with the counter again, but consumers that keep their
//! checkpoints elsewhere (a read model in another database) may be ahead
//! of the new head: rebuild them, or move their checkpoints back to
//! [`head_position`](eventsource::EventStore::head_position).
//!
//! # Reading
//!
//! Reads are streams: keyset pages of [`PgStoreOptions::with_page_size`]
//! rows, each row yielded as it arrives, so memory stays bounded whatever
//! the size of a stream or of the log, and a slow consumer keeps a query
//! open for one page at a time.
//!
//! - `read_stream` reads a stream by version.
//! - `read_all` reads the log from a position, filtered by event names,
//!   aggregate types, recording time or a partition (`stream_bucket =
//!   ANY(the partition's buckets)`) (as SQL conditions), up to the head
//!   as of the call. Rows below the horizon stream at once; if the head is
//!   above it, the tail waits for the older transactions to finish, so the
//!   result is complete and `subscribe(last + 1)` can follow on safely.
//! - `head_position` is the highest committed position; `stream_version`
//!   the version of a stream's last event.
//! - Aggregate loads (`visit_stream_with` asking for
//!   `RecordFields::REPLAY`) select five columns (name, version, schema
//!   version, payload, position), decoded by position: no metadata, id,
//!   aggregate type or recording time. With the store as its own snapshot
//!   store, a load reads the snapshot and the first page of the events after
//!   it in one statement (`visit_stream_after_snapshot`).
//! - A subscription reads each round's pages in a task of its own, on the
//!   connection the round's horizon was found on, a page ahead of its
//!   consumer: the server reads the next page while the consumer handles
//!   the current one.
//!
//! A row that cannot be turned into a [`RecordedEvent`](eventsource::RecordedEvent)
//! (metadata of the wrong shape, say) yields one
//! [`StoreError::Corrupt`](eventsource::StoreError::Corrupt) item naming its
//! position, stream, version and event, and the read continues with the
//! next row. A subscription hands such a row over whole instead, as
//! [`SubscriptionItem::Corrupt`](eventsource::store::SubscriptionItem::Corrupt)
//! with every column as stored, so that a projection parks it and goes on. Payloads are handed over as text; the runtime reports a payload
//! that does not fit its type, or an unknown event name, as a typed
//! [`DecodeError`](eventsource::DecodeError).
//!
//! # Subscriptions
//!
//! `subscribe` catches up below the horizon, yields
//! [`SubscriptionItem::CaughtUp`](eventsource::store::SubscriptionItem::CaughtUp)
//! with the last position covered (every event up to it has been delivered
//! or filtered out, so a filtered consumer can checkpoint there; it need not
//! be the position of an event), and waits for the events below. A
//! partition filter is one more condition on the same pages below the same
//! horizon, so a partition's reader has the same gap-free guarantee, and
//! reads only its partition's rows. It waits for:
//!
//! - an append through this store value (or a clone), at once;
//! - a `NOTIFY` on the store's channel, for appends by other processes;
//! - a quick, doubling re-check (1 ms up to [`PgStoreOptions::with_recheck_max`])
//!   while committed events wait above the horizon behind an open transaction;
//! - otherwise the polling interval ([`PgStoreOptions::with_poll_interval`]),
//!   in case a notification was lost.
//!
//! While any subscription of a store value (or its clones) is alive, one
//! connection of its pool is held for `LISTEN`; size the pool for it. On a
//! pool of one connection, where that would leave nothing for reads and
//! appends, a subscription is refused at once with
//! [`StoreError::Invalid`](eventsource::StoreError::Invalid) (unless
//! notifications are off).
//!
//! `NOTIFY` is not sent inside the append's transaction: PostgreSQL (before
//! version 17) takes a database-wide lock from a transaction's `NOTIFY`
//! until its commit, which would serialise all appends. A background task
//! sends one `pg_notify` after a burst of appends instead.
//!
//! A failed query — a dropped connection, a restarted server — does not end
//! a subscription: it logs a warning and retries with backoff from the last
//! delivered position, neither losing nor repeating events. By default it
//! retries forever; [`PgStoreOptions::with_reconnect_limit`] makes it give up
//! with [`StoreError::Connection`](eventsource::StoreError::Connection)
//! after that many failures in a row. Other errors end it with the error.
//!
//! # Reading from a standby
//!
//! [`PgEventStore::with_replica`] (or [`PgEventStore::connect_with_replica`])
//! gives a store a pool on a hot standby of its primary (streaming
//! replication, `hot_standby = on`). Writes stay on the primary: appends,
//! snapshots saved, checkpoints, leases, projection read models, dead
//! letters, sagas, control requests and `NOTIFY`. [`ReplicaReads`] says
//! which reads move: [`ReplicaReads::GlobalLog`] sends the global log's
//! (subscriptions, `read_all`, counts, the head, the stream catalog) and
//! keeps aggregate loads and snapshot loads on the primary;
//! [`ReplicaReads::Everything`] sends those too.
//!
//! **Read-your-writes.** Replication is asynchronous unless the primary is
//! told otherwise: a standby applies a commit a few milliseconds later (on
//! one machine, a median of about 6 ms from an append to its delivery by
//! a subscription on the standby, in `tests/replica.rs`), and much later
//! under load or after a network hiccup. A command whose aggregate was loaded from a standby that
//! has not applied the stream's last commit decides on an old state, and its
//! append conflicts; the repository retries it, loading again, which works
//! once the standby catches up and exhausts the retry policy when it lags
//! longer than the retries last. Hence `GlobalLog` for processes that run
//! commands. `Everything` suits readers, or a primary whose writers commit
//! with `synchronous_commit = remote_apply` (each commit then returns once
//! the standby has applied it, at the cost of that wait on every append).
//! A `read_all` or a count on a standby likewise reflects what it has
//! applied.
//!
//! **The gap-free order holds on a standby.** A standby's snapshot is built
//! from the transaction ids it learnt from the primary's WAL
//! (`KnownAssignedXids`): every id it has seen in a WAL record, *and every
//! id below the highest it has seen*, counts as running until the commit or
//! abort record of that transaction is applied (or a running-transactions
//! record from the primary says it has ended, which the primary writes
//! after the commit record of any transaction it lists as ended). The argument of
//! [A global order without gaps](#a-global-order-without-gaps) carries over
//! with "can still commit" read as "whose commit the standby has not applied
//! yet", for each transaction `x` of that kind:
//! - if the standby has seen an id at or above `x` (in a record of `x`
//!   itself or of any younger transaction), `x` is among its running ids,
//!   so its snapshot's `xmin` is at most `x`;
//! - if not, `x` lies above every id the standby knows, and `xmin` is at
//!   most the next id after those.
//!
//! Either way the horizon `xmin · 65536` stays at or below `x`'s positions,
//! so the rows below it are final *on that standby*: it shows every one
//! that will ever be visible there, and it only moves forward. A
//! transaction the primary numbered before a younger one commits, but which
//! wrote nothing yet, is the case to worry about; the younger one's WAL
//! records already put the older id among the standby's running ids
//! (`tests/replica.rs` takes such an id, commits a younger append, and
//! checks that the standby's horizon and its subscriber wait for the older).
//!
//! Final on that standby, not on another: a horizon from a server further
//! ahead (the primary, a standby ahead of this one) can lie above rows this
//! one has not applied, and a reader that moved past them there would skip
//! them (the test shows it with the primary's horizon and a paused
//! standby). The same goes for one standby restarted after a crash: it
//! reopens for reads once consistent, which can be at an earlier point of
//! the WAL than it had shown before.
//! So every reader takes the horizon and the rows below it on one
//! connection, hence from one server in one run of it, and moves only
//! forward from what it delivered: a reader served by a standby behind the
//! one before (a pool reconnected elsewhere, a restart) waits for it to
//! catch up and skips nothing. Point the standby pool at one server, not
//! at a balancer over several: that stays correct but delivers at the pace
//! of the slowest.
//!
//! **Waking up, and lag.** A standby cannot `LISTEN`, so a subscription
//! listens on the primary (one connection of the primary's pool) and reads
//! on the standby. A notification usually arrives before the standby has
//! applied what it announces, so after each one a subscription re-checks
//! the standby quickly (1 ms, doubling up to
//! [`PgStoreOptions::with_recheck_max`], for about a second), then falls
//! back to the polling interval (without the re-checks, a delivery that
//! missed its notification waited the full interval, 1 s by default). While
//! the standby lags, a subscriber simply
//! waits: it never sees positions the standby lacks, reports `CaughtUp`
//! only for what the standby has applied, and delivers the rest, in order,
//! once replay resumes (a standby whose replay was paused for 2 s delivered
//! the 30 events appended meanwhile about 0.1 s after resuming, in the
//! test). A statement the standby cancels because replay needed what it read
//! (`max_standby_streaming_delay`, SQLSTATE `40001`) is retried from the last
//! position like a lost connection. The stall warning names the blocking
//! transaction by asking the primary.
//!
//! # TLS
//!
//! Managed PostgreSQL services require TLS. The connection URL says how
//! much to check, as with libpq: `sslmode=verify-full` encrypts, checks
//! that the server's certificate chains to a trusted CA, and that it names
//! the host connected to; `sslrootcert` names the CA's certificate (PEM),
//! such as the bundle a cloud provider publishes for its databases.
//!
//! ```no_run
//! use eventsource_postgres::{PgEventStore, PgStoreOptions};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let url = "postgres://app:secret@db.example.com:5432/app\
//!            ?sslmode=verify-full&sslrootcert=/etc/ssl/certs/db-ca.pem";
//! let store = PgEventStore::connect_with(url, PgStoreOptions::new("shop")?).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The TLS backend is a feature of this crate, passed on to sqlx:
//!
//! - `tls-rustls` (default): rustls, with the Mozilla root certificates
//!   built in, so a server with a publicly trusted certificate needs no
//!   `sslrootcert`.
//! - `tls-native-tls`: the platform's TLS library (OpenSSL on Linux, which
//!   must be installed to build it; the system's trusted certificates).
//!   sqlx uses it when both features are on.
//!
//! With neither (`default-features = false`), `sslmode=prefer` (libpq's
//! default, and sqlx's) connects in clear text and the stricter modes are
//! refused. Whatever refuses it — an untrusted certificate, a host name the
//! certificate does not name, a server without TLS, a build without a
//! backend — the error is [`StoreError::Connection`](eventsource::StoreError::Connection)
//! holding a [`TlsError`], whose message begins `TLS handshake failed:`.
//!
//! # Connections
//!
//! The pools the store builds itself ([`PgEventStore::connect_with`] and
//! the other `connect*` constructors, the tenants' pools of
//! [`PgConjoined`]) hold up to 10 connections, skip sqlx's ping before each
//! use, and turn on `TCP_NODELAY` on every new connection
//! ([`tcp_nodelay`]). sqlx leaves Nagle's algorithm on, and over TCP a
//! statement larger than one segment (a batch of events) then waits for
//! the server's delayed acknowledgement, up to ~40 ms on Linux. A pool
//! built by hand and handed to [`PgEventStore::with_options`] should call
//! [`tcp_nodelay`] from its `after_connect`.
//!
//! # Traces and metrics
//!
//!
//! The features `opentelemetry` and `metrics` turn on those of the runtime
//! (`eventsource::telemetry`, `eventsource::metrics`). With the first, the
//! store's statements on the events table (appends, versions, counts, the
//! head) run in client spans named `INSERT events` or `SELECT events`, with
//! `db.system.name = "postgresql"`, `db.operation.name`,
//! `db.collection.name` and `db.namespace` (the schema). With the second,
//! a subscription's query retried after a lost connection, and its
//! `LISTEN` connection opened again, count in
//! `eventsource_subscription_reconnects_total{source="postgresql"}`.
//!
//! # Errors
//!
//! Lost connections map to [`StoreError::Connection`](eventsource::StoreError::Connection),
//! rows that cannot be read to `Corrupt`, requests the database cannot
//! store (a payload that is not JSON, a value beyond `bigint`) to `Invalid`,
//! and everything else to `Backend`. Nothing in this crate panics on data
//! from a caller or from the database.
//!
//! # Where things are
//!
//! `store.rs` holds [`PgEventStore`] and its trait impls, each delegating to
//! a part: `append/` (its `mod.rs` the only entry; the request and its
//! statement at the bottom, in `statement.rs`, with one append in
//! `single.rs`, group commit in `group.rs`, kept connections in
//! `writers.rs` and the transaction-id guard in `xid_guard.rs`), `read/`
//! (reads, subscriptions and the stall warning), `snapshots.rs`,
//! `checkpoints.rs`, `processing/` (projection backend, dead letters,
//! sagas) and `replica.rs` (what a standby serves, [`ReplicaReads`]). Each writes its SQL statements whole next to the code that binds
//! them; `sql.rs` is the one place the schema enters SQL, and
//! `positions.rs` defines the position constants.
//!
//! # Notes
//!
//! - `PgEventStore` implements both `SnapshotStore::save` and
//!   `CheckpointStore::save` (and `load`); with both traits in scope, call
//!   them as `SnapshotStore::save(&store, ..)`.
//! - sqlx pools ping each connection before handing it out unless built
//!   with `test_before_acquire(false)`, which costs an extra round trip
//!   per append; [`PgEventStore::connect`] turns it off. They also test
//!   each connection handed back, with a round trip of its own; a store
//!   with many concurrent writers avoids that with
//!   [`PgStoreOptions::with_writer_connections`], which keeps connections
//!   for its appends between appends.
//! - With many concurrent writers, most of an append's cost is its commit:
//!   a transaction, and a wait for the WAL flush.
//!   [`PgStoreOptions::with_group_commit`] lets appends that arrive while
//!   others run share statements, and so commits, each keeping its own
//!   checks, result and error.
//! - The tests of this crate need a server: run `./scripts/test` at the
//!   workspace root, which uses `DATABASE_URL` or starts a throwaway server.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
// docs.rs (nightly, `--cfg docsrs`) marks items that need a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod append;
mod archive;
mod checkpoints;
mod conjoin;
mod conjoined;
mod error;
mod keys;
mod lifecycle;
pub mod migrate;
mod nodelay;
mod notify;
mod options;
mod positions;
mod processing;
mod read;
mod read_model;
mod replica;
mod row;
mod schema;
mod scope;
mod snapshots;
mod sql;
mod store;
mod tenant_id;
mod tenants;

pub use append::TransactionIdsBehind;
pub use conjoined::{ConjoinedError, PgAcrossTenants, PgConjoined};
pub use error::{TlsError, store_error};
pub use keys::PgKeyStore;
pub use nodelay::{tcp_nodelay, tcp_nodelay_between};
pub use options::{DEFAULT_SCHEMA, PgStoreOptions};
pub use processing::{
    PgControlStore, PgDeadLetterStore, PgProjectionBackend, PgProjectionTx, PgSagaStore,
};
pub use read_model::{PgReadModel, ReadModelStep};
pub use replica::ReplicaReads;
pub use schema::{Identifier, InvalidIdentifier};
pub use scope::DEFAULT_TENANT;
pub use store::PgEventStore;
pub use tenant_id::{TENANT_HEADER, TenantError, TenantId};
pub use tenants::{HeaderTenantResolver, PgTenants, TenantGuard, TenantResolver};
