//! Exact decimal amounts: never a float.

use crate::EventError;

/// An exact decimal with at most 18 digits before the point and 9 after, held as a
/// count of nano-units (10^-9). `Display` gives the canonical form (`12.5`, `0`, `-3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Amount {
    nanos: i128,
}

impl Amount {
    pub const ZERO: Amount = Amount { nanos: 0 };

    /// Parse decimal text as found in a JSON number (`12.50`, `1e1`, `-0`) or a numeric
    /// JSON string (`"12.50"`, `"+1e1"`). Never goes through f64.
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let _ = text;
        todo!()
    }
    /// The value in units of 10^-9.
    pub fn nano_units(self) -> i128 {
        self.nanos
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f;
        todo!()
    }
}

impl serde::Serialize for Amount {
    /// Amounts leave the service as JSON strings so that no client loses digits.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An exact sum of amounts (aggregates). Same scale as `Amount` (nano-units) but up to
/// 38 significant digits, as DynamoDB numbers hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AmountSum {
    nanos: i128,
}

impl AmountSum {
    pub const ZERO: AmountSum = AmountSum { nanos: 0 };

    /// Parse a decimal as DynamoDB returns a number attribute (`123.45`, `-7`, `1E+3`).
    pub fn parse(text: &str) -> Option<Self> {
        let _ = text;
        todo!()
    }
    /// `None` on overflow.
    pub fn checked_add(self, amount: AmountSum) -> Option<Self> {
        self.nanos
            .checked_add(amount.nanos)
            .map(|nanos| AmountSum { nanos })
    }
    pub fn nano_units(self) -> i128 {
        self.nanos
    }
}

impl From<Amount> for AmountSum {
    fn from(amount: Amount) -> Self {
        AmountSum {
            nanos: amount.nano_units(),
        }
    }
}

impl std::fmt::Display for AmountSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f;
        todo!()
    }
}

impl serde::Serialize for AmountSum {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
