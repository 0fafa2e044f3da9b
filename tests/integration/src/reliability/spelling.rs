//! Amount and timestamp spellings, computed here (not by event-core) so the reliability
//! tests' truth is their own: the service's canonical amount, and the many JSON spellings of
//! one amount or one instant that the contract takes as the same value, and of one event.

use super::calendar::{format_ts, significant_digits, Zone, NS};
use super::workload::Event;

/// 10^-9 units per unit of amount.
pub const NANO: i128 = 1_000_000_000;

fn amount_parts(n: i128) -> (bool, i128, String) {
    (n < 0, n.abs() / NANO, format!("{:09}", n.abs() % NANO))
}

/// The service's canonical amount: no `+`, no trailing zeros, `-0` is `0`.
pub fn canonical_amount(n: i128) -> String {
    let (negative, whole, fraction) = amount_parts(n);
    let fraction = fraction.trim_end_matches('0');
    let sign = if negative { "-" } else { "" };
    match fraction.is_empty() {
        true => format!("{sign}{whole}"),
        false => format!("{sign}{whole}.{fraction}"),
    }
}

fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

/// One JSON spelling (number or string) of the amount `n` (in 10^-9 units).
pub fn spell_amount(n: i128, rng: &mut fastrand::Rng) -> String {
    if n == 0 {
        let zeros = ["0", "\"0\"", "\"-0\"", "-0", "0.000", "\"0.0\"", "0e5"];
        return zeros[rng.usize(..zeros.len())].to_owned();
    }
    let canon = canonical_amount(n);
    let (negative, whole, fraction) = amount_parts(n);
    let sign = if negative { "-" } else { "" };
    let trimmed = fraction.trim_end_matches('0');
    match rng.u8(..8) {
        0 => quoted(&canon),
        1 => canon,
        2 => quoted(&format!("{sign}{whole}.{fraction}")),
        3 => format!("{sign}{whole}.{fraction}"),
        4 => {
            // mantissa and exponent: 12.5 -> 125e-1, 1000 -> 1e3
            let (mantissa, exponent) = if trimmed.is_empty() {
                let digits = whole.to_string();
                let kept = digits.trim_end_matches('0');
                (kept.to_owned(), (digits.len() - kept.len()) as i64)
            } else {
                let digits = format!("{whole}{trimmed}");
                (
                    digits.trim_start_matches('0').to_owned(),
                    -(trimmed.len() as i64),
                )
            };
            let text = format!("{sign}{mantissa}e{exponent}");
            if rng.bool() {
                quoted(&text)
            } else {
                text
            }
        }
        5 if !negative => quoted(&format!("+{canon}")),
        6 if trimmed.len() <= 7 => {
            let padded = if trimmed.is_empty() {
                format!("{canon}.00")
            } else {
                format!("{canon}00")
            };
            quoted(&padded)
        }
        _ => quoted(&canon),
    }
}

/// One JSON spelling of the timestamp `ns`: RFC 3339 in several zones and precisions, or
/// epoch seconds / milliseconds (number or string) when exact.
pub fn spell_ts(ns: i64, rng: &mut fastrand::Rng) -> String {
    let whole_second = ns % NS == 0;
    let whole_ms = ns % 1_000_000 == 0;
    let digits = significant_digits(ns);
    match rng.u8(..10) {
        0 => quoted(&format_ts(ns, Zone::Z, None)),
        1 => quoted(&format_ts(ns, Zone::Z, Some(9))),
        2 => quoted(&format_ts(ns, Zone::Offset(330), None)),
        3 => quoted(&format_ts(ns, Zone::Offset(-480), Some(digits.max(3)))),
        4 => quoted(&format_ts(ns, Zone::Bare, None)),
        5 => quoted(&format_ts(ns, Zone::SpaceOffset(120), None)),
        6 if whole_second => (ns / NS).to_string(),
        7 if whole_ms => (ns / 1_000_000).to_string(),
        8 if whole_second => quoted(&(ns / NS).to_string()),
        _ => quoted(&format_ts(ns, Zone::Offset(60), None)),
    }
}

/// The JSON text of one send of `event`: random spellings of amount, timestamp and metric,
/// any source, field orders, spacing and an unknown field now and then.
pub fn spell_event(event: &Event, client_id: &str, rng: &mut fastrand::Rng) -> String {
    let (colon, comma) = if rng.u8(..4) == 0 {
        (" : ", " ,\n ")
    } else {
        (":", ",")
    };
    let field = |name: &str, value: &str| format!("\"{name}\"{colon}{value}");
    let amount = field("amount", &spell_amount(event.amount, rng));
    let timestamp = field("timestamp", &spell_ts(event.ts, rng));
    let metric = match rng.u8(..10) {
        0 => field("metric", &quoted(&format!("  {} ", event.metric))),
        _ => field("metric", &quoted(event.metric)),
    };
    let mut payload = match rng.u8(..3) {
        0 => vec![metric, amount, timestamp],
        1 => vec![timestamp, amount, metric],
        _ => vec![amount, timestamp, metric],
    };
    if rng.u8(..8) == 0 {
        payload.push(field("note", "\"resent\""));
    }
    let payload = field("payload", &format!("{{{}}}", payload.join(comma)));
    let mut top = vec![field("client_id", &quoted(client_id)), payload];
    if let Some(source) = ["web", "mobile", "import"].get(rng.usize(..4)) {
        top.insert(rng.usize(..=top.len()), field("source", &quoted(source)));
    }
    if let Some(id) = &event.event_id {
        top.insert(rng.usize(..=top.len()), field("event_id", &quoted(id)));
    }
    if rng.bool() {
        let last = top.len() - 1;
        top.swap(0, last);
    }
    format!("{{{}}}", top.join(comma))
}

#[cfg(test)]
mod tests {
    use super::super::calendar::{canonical_ts, date_ns};
    use super::*;
    use crate::nano_units;

    #[test]
    fn spellings_are_what_the_contract_allows() {
        // the helpers are the reliability tests' own truth: check them against known values
        assert_eq!(
            canonical_ts(date_ns(2026, 11, 20) + 8 * 3600 * NS),
            "2026-11-20T08:00:00Z"
        );
        assert_eq!(date_ns(2026, 11, 20) / NS, 1_795_132_800);
        assert_eq!(
            format_ts(
                date_ns(2026, 11, 20) + 8 * 3600 * NS,
                Zone::Offset(120),
                None
            ),
            "2026-11-20T10:00:00+02:00"
        );
        assert_eq!(
            format_ts(
                date_ns(2026, 11, 20) + 8 * 3600 * NS + 120_000_000,
                Zone::Offset(-300),
                Some(3)
            ),
            "2026-11-20T03:00:00.120-05:00"
        );
        assert_eq!(
            format_ts(5 * NS, Zone::SpaceOffset(120), None),
            "1970-01-01T02:00:05 02:00"
        );
        assert_eq!(significant_digits(1_500_000), 4);
        assert_eq!(significant_digits(NS), 0);
        assert_eq!(canonical_amount(12_500_000_000), "12.5");
        assert_eq!(canonical_amount(-1), "-0.000000001");
        assert_eq!(canonical_amount(10 * NANO), "10");
        for _ in 0..1000 {
            let mut rng = fastrand::Rng::new();
            let n = rng.i128(-1_000_000_000_000_000_000..1_000_000_000_000_000_000) * NANO
                / 10i128.pow(rng.u32(0..10));
            let spelled = spell_amount(n, &mut rng);
            let text = spelled.trim_matches('"').trim_start_matches('+');
            // value check without floats: parse mantissa/exponent by hand
            let (mantissa, exponent) = match text.split_once('e') {
                Some((m, e)) => (m.to_owned(), e.parse::<i32>().unwrap()),
                None => (text.to_owned(), 0),
            };
            let units = nano_units(&mantissa);
            let value = if exponent >= 0 {
                units * 10i128.pow(exponent as u32)
            } else {
                units / 10i128.pow((-exponent) as u32)
            };
            assert_eq!(value, n, "{spelled}");
        }
    }
}
