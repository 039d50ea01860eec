//! PostgreSQL stores for eventsource (work in progress).
