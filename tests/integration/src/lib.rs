//! Harness for the end-to-end tests: finds or starts the local stack.
