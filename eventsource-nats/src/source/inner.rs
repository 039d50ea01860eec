//! What the clones of a source share.

use std::sync::Arc;

use async_nats::jetstream;

use super::acks;
use super::options::SourceOptions;
use crate::error::NatsError;

pub(super) struct Inner {
    pub(super) jetstream: jetstream::Context,
    pub(super) options: SourceOptions,
    pub(super) acks: Arc<acks::Registry>,
}

impl Inner {
    pub(super) fn new(client: async_nats::Client, options: SourceOptions) -> Self {
        Self {
            jetstream: jetstream::new(client),
            options,
            acks: Arc::default(),
        }
    }

    pub(super) async fn stream(&self) -> Result<jetstream::stream::Stream, NatsError> {
        self.jetstream
            .get_stream(&self.options.stream)
            .await
            .map_err(|e| NatsError::jetstream("find the stream", &self.options.stream, e))
    }
}
