//! The `listing` function's handler.
