//! The `ingest` function's handler.
