//! Running a command: load, handle, append; retry on conflict; snapshot.

use std::sync::Arc;

use tracing::Instrument;
use uuid::Uuid;

use super::load::Until;
use super::{Executed, Repository};
use crate::aggregate::Aggregate;
use crate::clock::Clock;
use crate::command::{Command, CreationPolicy, Handles};
use crate::error::{CommandError, Error};
use crate::event::EventSet;
use crate::event::{Metadata, NewEvent};
use crate::metrics::{self, Outcome};
use crate::store::{ExpectedVersion, Snapshot, StoreError};

impl<A: Aggregate> Repository<A> {
    /// Runs `command` against its aggregate with empty metadata.
    pub async fn execute<C>(&self, command: C) -> Result<Executed<A>, CommandError<A::Error>>
    where
        C: Command<Aggregate = A>,
        A: Handles<C>,
    {
        self.execute_with(command, Metadata::default()).await
    }

    /// Runs `command`: loads the aggregate, lets the handler decide, appends
    /// the events with the loaded version as the expected one. On a version
    /// conflict it reloads and runs the handler again, up to the retry policy.
    pub async fn execute_with<C>(
        &self,
        command: C,
        metadata: Metadata,
    ) -> Result<Executed<A>, CommandError<A::Error>>
    where
        C: Command<Aggregate = A>,
        A: Handles<C>,
    {
        self.execute_expecting(command, metadata, ExpectedVersion::Any)
            .await
    }

    /// Runs `command` only if the aggregate's stream is at `expected`
    /// (optimistic concurrency stated by the caller, as HTTP's `If-Match`):
    /// the handler decides on exactly that version, and any other version,
    /// found on load or by the append, is a [`StoreError::Conflict`],
    /// returned without retrying (the caller's view is out of date; deciding
    /// again on a newer state is theirs to choose). With
    /// [`ExpectedVersion::Any`] this is [`Repository::execute_with`].
    pub async fn execute_expecting<C>(
        &self,
        command: C,
        metadata: Metadata,
        expected: ExpectedVersion,
    ) -> Result<Executed<A>, CommandError<A::Error>>
    where
        C: Command<Aggregate = A>,
        A: Handles<C>,
    {
        self.execute_borrowed(&command, metadata, expected).await
    }

    /// [`Repository::execute_expecting`] on a borrowed command, so the bus
    /// can show the command to its interceptors afterwards.
    pub(crate) async fn execute_borrowed<C>(
        &self,
        command: &C,
        metadata: Metadata,
        expected: ExpectedVersion,
    ) -> Result<Executed<A>, CommandError<A::Error>>
    where
        C: Command<Aggregate = A>,
        A: Handles<C>,
    {
        let command_id = self.clock.uuid_v7();
        let stream_id: Arc<str> = Self::checked_stream_id(&command.aggregate_id())?.into();
        let span = tracing::info_span!(
            "eventsource.execute",
            aggregate = A::NAME,
            command = C::NAME,
            %command_id,
            stream_id = &*stream_id,
            attempts = tracing::field::Empty,
            version = tracing::field::Empty,
            events = tracing::field::Empty,
        );
        async {
            let mut attempt = 1;
            loop {
                let outcome = self
                    .attempt(
                        command, &metadata, command_id, &stream_id, attempt, expected,
                    )
                    .await;
                match outcome {
                    Err(CommandError::Failed(Error::Store(conflict)))
                        if conflict.is_conflict()
                            && expected == ExpectedVersion::Any
                            && attempt < self.retry.max_attempts =>
                    {
                        metrics::conflict(A::NAME, true);
                        tracing::debug!(attempt, "version conflict; reloading and retrying");
                        self.clock
                            .sleep(self.retry.delay_on(attempt, &self.clock))
                            .await;
                        attempt += 1;
                    }
                    // The last conflict, when the retries ran out, is
                    // returned as the store reported it.
                    other => {
                        metrics::command_ended(A::NAME, C::NAME, outcome_of(&other));
                        if matches!(&other, Err(CommandError::Failed(Error::Store(e))) if e.is_conflict()) {
                            metrics::conflict(A::NAME, false);
                        }
                        let span = tracing::Span::current();
                        span.record("attempts", attempt);
                        if let Ok(done) = &other {
                            span.record("version", done.version);
                            span.record("events", done.events.len());
                        }
                        return other;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn attempt<C>(
        &self,
        command: &C,
        metadata: &Metadata,
        command_id: Uuid,
        stream_id: &Arc<str>,
        attempt: u32,
        expected: ExpectedVersion,
    ) -> Result<Executed<A>, CommandError<A::Error>>
    where
        C: Command<Aggregate = A>,
        A: Handles<C>,
    {
        // A cached state may lag the store; a stated version is checked
        // against a fresh load.
        let cached = match expected {
            ExpectedVersion::Any => self.cache.as_ref().and_then(|c| c.take(stream_id)),
            _ => None,
        };
        let from_cache = cached.is_some();
        let loaded = match cached {
            Some(found) => Some(found),
            None => self
                .rebuild(stream_id, Until::Latest)
                .await?
                .map(|found| (found.state, found.version)),
        };
        let (mut state, version) = match (A::POLICY, loaded) {
            (CreationPolicy::Existing, None) => {
                return Err(Error::NotFound {
                    aggregate: A::NAME,
                    stream_id: stream_id.clone(),
                }
                .into());
            }
            (CreationPolicy::Create, Some((state, version))) => {
                self.put_back(stream_id, state, version, from_cache);
                return Err(Error::AlreadyExists {
                    aggregate: A::NAME,
                    stream_id: stream_id.clone(),
                    version,
                }
                .into());
            }
            (_, Some((state, version))) => (state, Some(version)),
            (_, None) => (A::default(), None),
        };
        if !expected.is_satisfied_by(version) {
            self.put_back(stream_id, state, version.unwrap_or(0), from_cache);
            return Err(StoreError::Conflict {
                stream_id: stream_id.clone(),
                expected,
                actual: version,
            }
            .into());
        }
        let current = version.unwrap_or(0);
        let events = match state.handle(command, metadata) {
            Ok(events) => events,
            Err(rejection) => {
                if from_cache {
                    self.confirm_cached(stream_id, current).await?;
                    self.put_back(stream_id, state, current, true);
                }
                return Err(CommandError::Rejected(rejection));
            }
        };
        if events.is_empty() {
            if from_cache {
                self.confirm_cached(stream_id, current).await?;
            }
            if let (Some(cache), Some(version)) = (&self.cache, version) {
                cache.keep(stream_id, &state, version);
            }
            return Ok(Executed {
                command_id,
                stream_id: stream_id.clone(),
                version: current,
                events,
                appended: None,
                state,
                attempts: attempt,
                snapshot_saved: false,
            });
        }
        for event in &events {
            state.apply(event);
        }
        let batch = encode(&events, metadata, command_id, stream_id, &self.clock)?;
        let expected =
            if attempt > 1 && crate::mutation::enabled(crate::mutation::Mutation::StaleRetry) {
                ExpectedVersion::Any
            } else {
                ExpectedVersion::from_current(version)
            };
        let span = tracing::debug_span!(
            "eventsource.append",
            aggregate = A::NAME,
            stream_id = &**stream_id,
            %expected,
            events = events.len(),
            version = tracing::field::Empty,
            position = tracing::field::Empty,
        );
        let started = self.clock.instant();
        let appended = self
            .store
            .append(stream_id, A::NAME, expected, batch)
            .instrument(span.clone())
            .await;
        metrics::appended(
            A::NAME,
            events.len(),
            self.clock.instant().saturating_duration_since(started),
            appended.is_ok(),
        );
        let appended = appended.map_err(Error::from)?;
        span.record("version", appended.last_version);
        span.record("position", appended.last_position);
        if let Some(cache) = &self.cache {
            cache.keep(stream_id, &state, appended.last_version);
        }
        let snapshot_saved = self
            .snapshot_after(stream_id, &state, current, appended.last_version)
            .await;
        Ok(Executed {
            command_id,
            stream_id: stream_id.clone(),
            version: appended.last_version,
            events,
            appended: Some(appended),
            state,
            attempts: attempt,
            snapshot_saved,
        })
    }

    /// Returns a state taken from the cache, unchanged.
    fn put_back(&self, stream_id: &Arc<str>, state: A, version: u64, from_cache: bool) {
        if let (true, Some(cache)) = (from_cache, &self.cache) {
            cache.put_back(stream_id, state, version);
        }
    }

    /// Checks that a decision made on a cached state was made on the
    /// stream's head; if not, reports a conflict, so the command runs again
    /// on a fresh load.
    async fn confirm_cached<E>(
        &self,
        stream_id: &Arc<str>,
        version: u64,
    ) -> Result<(), CommandError<E>> {
        let actual = self.store.stream_version(stream_id).await?;
        if actual == Some(version) {
            return Ok(());
        }
        Err(StoreError::Conflict {
            stream_id: stream_id.clone(),
            expected: ExpectedVersion::Exact(version),
            actual,
        }
        .into())
    }

    /// Saves a snapshot when the append crossed a multiple of the interval.
    /// A failure is logged, not returned: the events are already committed.
    async fn snapshot_after(
        &self,
        stream_id: &Arc<str>,
        state: &A,
        before: u64,
        after: u64,
    ) -> bool {
        let (Some(store), Some(every)) = (&self.snapshots, self.snapshot_every) else {
            return false;
        };
        if before / every == after / every {
            return false;
        }
        let encoded = match state.encode_snapshot() {
            None => return false,
            Some(Ok(json)) => json,
            Some(Err(error)) => {
                tracing::warn!(stream_id = &**stream_id, %error, "cannot serialize a snapshot");
                return false;
            }
        };
        let snapshot = Snapshot {
            stream_id: stream_id.clone(),
            aggregate_type: A::NAME.into(),
            version: after,
            revision: A::SNAPSHOT_REVISION,
            state: encoded.into(),
            taken_at: self.clock.now(),
        };
        match store.save(snapshot).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(stream_id = &**stream_id, %error, "cannot save a snapshot");
                false
            }
        }
    }
}

/// Serializes the handler's events with the command's causal metadata.
fn encode<E: EventSet>(
    events: &[E],
    metadata: &Metadata,
    command_id: Uuid,
    stream_id: &Arc<str>,
    clock: &Clock,
) -> Result<Vec<NewEvent>, Error> {
    #[cfg_attr(not(feature = "opentelemetry"), allow(unused_mut))]
    let mut event_metadata = Metadata {
        correlation_id: Some(metadata.correlation_id.unwrap_or(command_id)),
        causation_id: Some(metadata.causation_id.unwrap_or(command_id)),
        actor: metadata.actor.clone(),
        headers: metadata.headers.clone(),
    };
    // The events carry the context of the span running the command, so
    // that whoever processes them joins its trace.
    #[cfg(feature = "opentelemetry")]
    crate::telemetry::inject_current(&mut event_metadata.headers);
    events
        .iter()
        .map(|event| {
            let encoded = event.encode().map_err(|source| Error::Encode {
                event_name: event.name(),
                stream_id: stream_id.clone(),
                source,
            })?;
            Ok(NewEvent {
                event_id: clock.uuid_v7(),
                event_name: encoded.name.into(),
                schema_version: encoded.version,
                payload: encoded.payload.into(),
                metadata: event_metadata.clone(),
            })
        })
        .collect()
}

/// How a command ended, for the commands metric.
fn outcome_of<A: Aggregate, E>(result: &Result<Executed<A>, CommandError<E>>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(CommandError::Rejected(_)) => Outcome::Rejected,
        Err(CommandError::Failed(Error::Store(e))) if e.is_conflict() => Outcome::Conflict,
        Err(_) => Outcome::Error,
    }
}
