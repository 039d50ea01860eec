//! Which fields of its records a stream read fills in.

/// The fields of each record a stream read must fill in
/// ([`EventStore::visit_stream_with`](crate::store::EventStore::visit_stream_with)).
///
/// The stream id, the positions in the stream and in the global log, the
/// event's name, schema version and payload are always filled in: they are
/// what rebuilding an aggregate reads (the position and the stream id name
/// a record that does not decode). The other fields are filled in when
/// asked for; when not, a store may leave a placeholder there (an empty
/// [`Metadata`](crate::Metadata), the nil event id, an empty aggregate type,
/// the Unix epoch as recording time) or fill them in all the same, as the
/// in-memory store does, which lends the records it holds. Reading less
/// lets a store on a server transfer and convert less: a load never looks
/// at the metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RecordFields {
    /// The metadata.
    pub metadata: bool,
    /// The event id, the aggregate type and the recording time.
    pub envelope: bool,
}

impl RecordFields {
    /// Every field: what [`EventStore::visit_stream`](crate::store::EventStore::visit_stream) lends.
    pub const ALL: Self = Self {
        metadata: true,
        envelope: true,
    };

    /// What replaying events onto an aggregate reads: the fields that are
    /// always filled in, and nothing else.
    pub const REPLAY: Self = Self {
        metadata: false,
        envelope: false,
    };

    /// These fields and the metadata.
    #[must_use]
    pub const fn with_metadata(mut self) -> Self {
        self.metadata = true;
        self
    }

    /// These fields and the envelope: event id, aggregate type, recording time.
    #[must_use]
    pub const fn with_envelope(mut self) -> Self {
        self.envelope = true;
        self
    }
}

impl Default for RecordFields {
    /// [`RecordFields::ALL`].
    fn default() -> Self {
        Self::ALL
    }
}
