//! Publishing one batch of the log, pipelined, as a chain of expected
//! stream sequences.

use std::collections::VecDeque;

use async_nats::jetstream;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use eventsource::RecordedEvent;
use eventsource::store::CorruptRecord;

use crate::error::NatsError;
use crate::headers;
use crate::subject::SubjectScheme;

/// What the relay publishes: an event, or a record the store could not
/// read (published as it is, for the far side to park).
pub(super) enum Outgoing {
    Event(RecordedEvent),
    Corrupt(Box<CorruptRecord>),
}

impl Outgoing {
    pub(super) fn position(&self) -> u64 {
        match self {
            Self::Event(event) => event.global_position,
            Self::Corrupt(record) => record.global_position,
        }
    }

    fn message(&self, subjects: &SubjectScheme) -> Result<(String, PublishMessage), NatsError> {
        let position = self.position();
        let (aggregate_type, stream_id, headers, payload) = match self {
            Self::Event(event) => (
                &*event.aggregate_type,
                &*event.stream_id,
                headers::for_event(event),
                Bytes::copy_from_slice(event.payload.as_bytes()),
            ),
            Self::Corrupt(record) => (
                record.aggregate_type.as_str(),
                record.stream_id.as_str(),
                headers::for_corrupt(record),
                Bytes::copy_from_slice(record.payload.as_bytes()),
            ),
        };
        let subject = subjects
            .subject(aggregate_type, stream_id)
            .map_err(|source| NatsError::Subject { position, source })?;
        Ok((
            subject,
            PublishMessage::build().headers(headers).payload(payload),
        ))
    }
}

/// Publishes `batch` in order, each message expecting the stream to end
/// at the sequence the one before it took (`last_sequence` for the first),
/// and awaits every acknowledgement. Returns the stream's last sequence
/// afterwards.
///
/// The expectation is what keeps the stream in global order although the
/// publishes are pipelined: if one is lost (a broken connection, a
/// timeout), every later one fails its expectation instead of being
/// stored after the gap, and the relay starts again from the stream's
/// end. The same check fences off a relay that lost its lease: its
/// expectations no longer hold once another one has published.
pub(super) async fn publish(
    jetstream: &jetstream::Context,
    stream: &str,
    subjects: &SubjectScheme,
    batch: &[Outgoing],
    last_sequence: u64,
) -> Result<u64, NatsError> {
    let mut pending: VecDeque<(u64, PublishAckFuture)> = VecDeque::with_capacity(batch.len());
    let mut expected = last_sequence;
    for outgoing in batch {
        let (subject, message) = outgoing.message(subjects)?;
        let ack = jetstream
            .send_publish(subject, message.expected_last_sequence(expected))
            .await
            .map_err(|e| NatsError::jetstream("publish an event", stream, e))?;
        expected += 1;
        pending.push_back((expected, ack));
    }
    for (sequence, ack) in pending {
        let ack = ack
            .await
            .map_err(|e| NatsError::jetstream("acknowledge a published event", stream, e))?;
        if ack.duplicate || ack.sequence != sequence {
            // Someone else (a relay that took over) published meanwhile.
            return Err(NatsError::jetstream(
                "keep its place in the stream",
                stream,
                format!(
                    "expected the event at sequence {sequence}, the stream put it at {}{}",
                    ack.sequence,
                    if ack.duplicate { " as a duplicate" } else { "" }
                ),
            ));
        }
    }
    Ok(expected)
}
