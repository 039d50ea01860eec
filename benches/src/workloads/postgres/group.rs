//! The hand-written group commit: the ceiling for many writers sharing
//! commits. Writers send their rows down a channel to one task holding one
//! connection, which takes everything queued, inserts it with one
//! multi-row `INSERT … SELECT FROM unnest(…)` (one transaction, one WAL
//! flush) and then answers each writer, who waits for its row's commit
//! before sending the next.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use eventsource::AggregateConfig;
use eventsource::uuid::Uuid;
use sqlx::PgPool;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

use super::{INSERT_COLUMNS, Mix, Sql};
use crate::domain::Account;

/// The most rows one statement takes (as many as the store's group commit
/// takes appends).
const MOST: usize = 256;

/// One writer's row, and where to say it is committed.
struct Request {
    stream: Arc<str>,
    version: i64,
    n: u64,
    done: oneshot::Sender<()>,
}

/// The raw group commit on the table under `schema`.
#[derive(Clone)]
pub(crate) struct RawGroup {
    pool: PgPool,
    insert: Sql,
    mix: Arc<Mix>,
    /// The raw baselines' position counter (see `append::Raw`).
    position: Arc<AtomicI64>,
}

impl RawGroup {
    pub(crate) fn new(
        pool: &PgPool,
        schema: &str,
        mix: Arc<Mix>,
        position: Arc<AtomicI64>,
    ) -> Self {
        Self {
            pool: pool.clone(),
            position,
            insert: Sql::new(format!(
                "INSERT INTO \"{schema}\".events ({INSERT_COLUMNS}) \
                 SELECT $1::int8 + u.ord, pg_current_xact_id(), u.stream_id, $2::text, \
                     u.stream_version, u.event_id, u.event_name, u.schema_version, \
                     u.payload::json, u.metadata::json \
                 FROM unnest($3::text[], $4::int8[], $5::uuid[], $6::text[], $7::int4[], \
                     $8::text[], $9::text[]) WITH ORDINALITY \
                     AS u(stream_id, stream_version, event_id, event_name, schema_version, \
                         payload, metadata, ord)"
            )),
            mix,
        }
    }

    /// `writers` tasks on streams of their own for at least `at_least`;
    /// events per second.
    pub(crate) fn round(&self, rt: &Runtime, writers: usize, at_least: Duration) -> f64 {
        rt.block_on(async {
            let (tx, rx) = mpsc::unbounded_channel();
            let committer = tokio::spawn(self.clone().commit(rx));
            let start = Instant::now();
            let deadline = start + at_least;
            let handles: Vec<_> = (0..writers)
                .map(|task| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let stream: Arc<str> =
                            Account::stream_id(&format!("raw-g-{task}-{}", Uuid::now_v7())).into();
                        let mut version = 0i64;
                        while Instant::now() < deadline {
                            let (done, committed) = oneshot::channel();
                            version += 1;
                            let request = Request {
                                stream: stream.clone(),
                                version,
                                n: version as u64,
                                done,
                            };
                            if tx.send(request).is_err() {
                                break;
                            }
                            committed.await.expect("the committer answers");
                        }
                        version as u64
                    })
                })
                .collect();
            drop(tx);
            let mut units = 0;
            for handle in handles {
                units += handle.await.expect("a writer task");
            }
            let elapsed = start.elapsed();
            committer.await.expect("the committer task");
            units as f64 / elapsed.as_secs_f64()
        })
    }

    /// Takes what has queued, inserts it as one statement, answers; until
    /// every writer has gone.
    async fn commit(self, mut rx: mpsc::UnboundedReceiver<Request>) {
        let mut conn = self.pool.acquire().await.expect("a connection");
        let mut batch = Vec::with_capacity(MOST);
        while rx.recv_many(&mut batch, MOST).await > 0 {
            let command_id = Uuid::now_v7();
            let rows: Vec<_> = batch
                .iter()
                .map(|r| self.mix.raw(r.n, command_id))
                .collect();
            let streams: Vec<&str> = batch.iter().map(|r| &*r.stream).collect();
            let versions: Vec<i64> = batch.iter().map(|r| r.version).collect();
            let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
            let names: Vec<&str> = rows.iter().map(|e| e.name).collect();
            let schema_versions: Vec<i32> = rows.iter().map(|e| e.version).collect();
            let payloads: Vec<&str> = rows.iter().map(|e| e.payload).collect();
            let metadata: Vec<&str> = rows.iter().map(|e| e.metadata.as_str()).collect();
            let base = self
                .position
                .fetch_add(batch.len() as i64, Ordering::Relaxed);
            sqlx::query(self.insert.get())
                .bind(base)
                .bind(Account::NAME)
                .bind(&streams)
                .bind(&versions)
                .bind(&ids)
                .bind(&names)
                .bind(&schema_versions)
                .bind(&payloads)
                .bind(&metadata)
                .execute(&mut *conn)
                .await
                .expect("the raw group insert succeeds");
            for request in batch.drain(..) {
                let _ = request.done.send(());
            }
        }
    }
}
