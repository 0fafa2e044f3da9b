//! Validated text fields: `ClientId`, `EventId`, `Source`, `Metric`.

use crate::EventError;

/// 1–128 chars of `[A-Za-z0-9._:@-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let _ = text;
        todo!()
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Optional caller-chosen identity: 1–128 chars of `[A-Za-z0-9._:@-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let _ = text;
        todo!()
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trimmed, 1–128 chars, no control chars; `"unknown"` when missing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Source(String);

impl Source {
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let _ = text;
        todo!()
    }
    pub fn unknown() -> Self {
        Source("unknown".to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trimmed, 1–128 chars, no control chars; `"unknown"` when missing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Metric(String);

impl Metric {
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let _ = text;
        todo!()
    }
    pub fn unknown() -> Self {
        Metric("unknown".to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
