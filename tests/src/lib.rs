//! Shared domain types for the workspace integration tests.
