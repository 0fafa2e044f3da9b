//! The typed rejections: why an event or a request body was refused.

/// Why one event was rejected. Each variant has a stable `code()` (SPEC.md), the dotted
/// `field()` path it concerns, and a `message()` sentence a user understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("{}", .0)]
    Todo(String),
}

impl EventError {
    /// Stable snake_case code, e.g. `invalid_amount`.
    pub fn code(&self) -> &'static str {
        todo!()
    }
    /// Dotted path of the offending field, e.g. `payload.amount`.
    pub fn field(&self) -> Option<&str> {
        todo!()
    }
    /// A sentence for humans.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// Why a whole request body was refused (before any event is looked at).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("{}", .0)]
    Todo(String),
}

impl BodyError {
    pub fn code(&self) -> &'static str {
        todo!()
    }
    /// 400 or 413.
    pub fn http_status(&self) -> u16 {
        todo!()
    }
    pub fn field(&self) -> Option<&str> {
        todo!()
    }
    pub fn message(&self) -> String {
        self.to_string()
    }
}
