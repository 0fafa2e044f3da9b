//! Shared HTTP plumbing for the functions.
