//! Reading one stream a page at a time, from the hot table or the archive.

use std::sync::Arc;

use eventsource::store::EventStream;
use futures::StreamExt;
use sqlx::{PgPool, Row};

use crate::error::store_error;
use crate::row::{self, Names, Unreadable};
use crate::sql::Sql;

/// The events of `stream_id` from `from_version`, read with the statement
/// `statement(&holder)` (binds: the stream id, the first version, the page
/// size; the version in column 3) on `pool(&holder)`, `page` rows at a time.
pub(crate) fn read<H: Send + Sync + 'static>(
    holder: Arc<H>,
    statement: fn(&H) -> &Sql,
    pool: fn(&H) -> &PgPool,
    page: i64,
    stream_id: &str,
    from_version: u64,
) -> EventStream {
    let stream_id: Arc<str> = stream_id.into();
    // Versions start at 1; one beyond bigint cannot exist.
    let mut next = i64::try_from(from_version.max(1)).unwrap_or(i64::MAX);
    Box::pin(async_stream::stream! {
        let mut names = Names::default();
        loop {
            let mut rows = sqlx::query(statement(&holder).get())
                .bind(&*stream_id)
                .bind(next)
                .bind(page)
                .fetch(pool(&holder));
            let mut seen = 0;
            while let Some(row) = rows.next().await {
                seen += 1;
                let row = match row {
                    Ok(row) => row,
                    Err(err) => {
                        yield Err(store_error(err));
                        return;
                    }
                };
                // Advance by the row's own version first, so a row that does
                // not decode is skipped and the rest stays readable.
                match row.try_get::<i64, _>(3) {
                    Ok(version) => next = version.saturating_add(1),
                    Err(err) => {
                        yield Err(store_error(err));
                        return;
                    }
                }
                yield row::decode(&row, &mut names).map_err(Unreadable::into_store_error);
            }
            if seen < page {
                return;
            }
        }
    })
}
