//! The `aggregates` function's handler.
