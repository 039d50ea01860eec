//! Live read models: a subscription query sent as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use eventsource::query::{Answer, Subscription};
use futures::{Stream, StreamExt, stream};
use serde::Serialize;

use crate::problem::Problem;

/// How often an idle stream sends a comment, by default: it keeps proxies
/// from closing it, and finds a client that went away.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Sends `subscription` as server-sent events: the first answer, then each
/// changed one, as `answer` events whose data is the JSON answer and whose
/// id is the projection's position. A failed query is an `error` event with
/// a problem document, and the stream goes on.
///
/// When the client goes away the response, and with it the subscription,
/// is dropped, at the latest at the next answer or keep-alive.
pub fn live<T>(
    subscription: Subscription<T>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + Send + 'static>
where
    T: Serialize + Send + 'static,
{
    live_with(subscription, KEEP_ALIVE)
}

/// [`live`], with a keep-alive every `keep_alive`.
pub fn live_with<T>(
    subscription: Subscription<T>,
    keep_alive: Duration,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + Send + 'static>
where
    T: Serialize + Send + 'static,
{
    let Subscription { initial, updates } = subscription;
    let events = stream::once(async move { Ok(initial) })
        .chain(updates)
        .map(|answer| Ok(event(answer.map_err(Problem::from))));
    Sse::new(events).keep_alive(KeepAlive::new().interval(keep_alive))
}

fn event<T: Serialize>(answer: Result<Answer<T>, Problem>) -> Event {
    let answer = answer.and_then(|answer| {
        let data = serde_json::to_string(&answer.value)
            .map_err(|error| Problem::internal(&format!("cannot serialize an answer: {error}")))?;
        Ok((data, answer.position))
    });
    match answer {
        Ok((data, position)) => {
            let event = Event::default().event("answer").data(data);
            match position {
                Some(position) => event.id(position.to_string()),
                None => event,
            }
        }
        Err(problem) => {
            let data = serde_json::to_string(&problem).unwrap_or_default();
            Event::default().event("error").data(data)
        }
    }
}
