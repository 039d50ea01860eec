//! The pages of one round of a subscription, read a page ahead of the
//! consumer.
//!
//! Read inline, the consumer and the server take turns: the next page's
//! query is sent only once the consumer has taken every row of the current
//! one, and the consumer waits while the server runs it. A task of its own
//! reads the pages instead, decodes the rows and hands them over in runs
//! through a channel that holds about one page: the server reads the next
//! page while the consumer works through the current one.
//!
//! The gap-free rule does not change: the task reads every page of the
//! round on the connection the round's horizon was found on (see
//! [`horizon`](super::horizon)), in order, and stops at the horizon. The
//! consumer moves its position only by what it delivered, so a failure
//! mid-round (the task's error, or the task gone) resumes from the last
//! delivered event, and a consumer that goes away ends the task, which
//! gives its connection back.

use std::sync::Arc;

use eventsource::store::EventFilter;
use eventsource::{RecordedEvent, StoreError};
use futures::StreamExt;
use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Bound, Reads, decode_global};
use crate::row::{Names, Unreadable};

/// Rows handed over at a time.
const RUN: usize = 256;

/// What the task hands over.
pub(crate) enum Handed {
    /// Decoded rows, in position order; an `Err` ends the round.
    Rows(Vec<Result<RecordedEvent, Unreadable>>),
    /// Every row below the horizon was handed over.
    Done,
}

/// The receiving end of one round's reader; ends the task when dropped.
pub(crate) struct Pages {
    rows: mpsc::Receiver<Handed>,
    task: JoinHandle<()>,
}

impl Pages {
    /// The next run of rows; `None` when the task ended without saying
    /// [`Handed::Done`] (it panicked), which the caller takes as a failure.
    pub(crate) async fn next(&mut self) -> Option<Handed> {
        self.rows.recv().await
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads the rows passing `filter` after `after` and below `before` on
/// `conn` (where `before` was found), page after page, in a task of its own.
pub(crate) fn read_round(
    reads: Arc<Reads>,
    filter: EventFilter,
    mut conn: PoolConnection<Postgres>,
    mut after: i64,
    before: i64,
) -> Pages {
    let page_size = i64::from(reads.options.page_size());
    // About one page in the channel: the task gets a page ahead, no more.
    let runs = usize::try_from(page_size)
        .unwrap_or(usize::MAX)
        .div_ceil(RUN);
    let (sender, rows) = mpsc::channel(runs.max(1));
    let task = tokio::spawn(async move {
        let bound = Bound::new(&filter);
        let mut names = Names::default();
        loop {
            let mut page = bound.page(&reads, &mut conn, after, before);
            let mut run = Vec::with_capacity(RUN);
            let mut seen = 0;
            let mut failed = false;
            while let Some(row) = page.next().await {
                seen += 1;
                let decoded = decode_global(row, &mut names);
                match &decoded {
                    Ok(event) => {
                        after = i64::try_from(event.global_position).unwrap_or(i64::MAX);
                    }
                    Err(Unreadable::Corrupt(record)) if record.global_position > 0 => {
                        after = i64::try_from(record.global_position).unwrap_or(i64::MAX);
                    }
                    Err(_) => failed = true,
                }
                run.push(decoded);
                if failed {
                    break;
                }
                if run.len() == RUN {
                    let full = std::mem::replace(&mut run, Vec::with_capacity(RUN));
                    if sender.send(Handed::Rows(full)).await.is_err() {
                        return;
                    }
                }
            }
            drop(page);
            if !run.is_empty() && sender.send(Handed::Rows(run)).await.is_err() {
                return;
            }
            if failed {
                return;
            }
            if seen < page_size {
                break;
            }
        }
        // The connection goes back before the consumer hears the round is
        // over: it may need one at once for its next round.
        drop(conn);
        let _ = sender.send(Handed::Done).await;
    });
    Pages { rows, task }
}

/// The error of a reader task that ended without finishing its round.
pub(crate) fn reader_gone() -> StoreError {
    StoreError::Backend("the task reading a subscription's pages ended before its round".into())
}
