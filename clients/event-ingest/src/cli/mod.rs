//! The `event-ingest` command's parts: arguments, where the URL and key come from,
//! progress, and one module per subcommand.

pub mod args;
pub mod config;
pub mod failed;
pub mod progress;
pub mod send;
pub mod stats;

/// The exit statuses, documented in `send --help` and the README.
pub mod exit {
    /// Every record processed or duplicate.
    pub const OK: u8 = 0;
    /// Some records rejected or failed (listed).
    pub const SOME_FAILED: u8 = 1;
    /// Usage or configuration error.
    pub const USAGE: u8 = 2;
    /// The key was refused (401/403).
    pub const KEY_REFUSED: u8 = 3;
    /// Gave up: the server stayed unreachable, or --max-time passed; state saved.
    pub const GAVE_UP: u8 = 4;
}

/// `90`, `90s`, `5m`, `2h`, `250ms` as a duration.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 5m or 2h"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m or h")),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{text:?} is not a duration"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_with_their_units() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
