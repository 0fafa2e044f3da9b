//! Calendar maths and timestamp text, computed here (not by event-core) so the reliability
//! tests' truth is their own: dates to Unix nanoseconds, RFC 3339 in any zone and precision,
//! and the service's canonical form.

/// Nanoseconds per second.
pub const NS: i64 = 1_000_000_000;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Unix nanoseconds of midnight UTC on a date.
pub fn date_ns(y: i64, m: i64, d: i64) -> i64 {
    days_from_civil(y, m, d) * 86_400 * NS
}

#[derive(Clone, Copy)]
pub enum Zone {
    Z,
    /// `+hh:mm` / `-hh:mm`, minutes east of UTC.
    Offset(i32),
    /// A space where the `+` was (what a query string makes of it).
    SpaceOffset(i32),
    /// No zone: UTC.
    Bare,
}

/// RFC 3339 text of `ns` in `zone`; `digits` fractional digits, or the canonical form (no
/// trailing zeros, no fraction for whole seconds).
pub fn format_ts(ns: i64, zone: Zone, digits: Option<usize>) -> String {
    let offset = match zone {
        Zone::Offset(m) | Zone::SpaceOffset(m) => i64::from(m),
        _ => 0,
    };
    let local = ns + offset * 60 * NS;
    let secs = local.div_euclid(NS);
    let nanos = local.rem_euclid(NS);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut text = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    let fraction = format!("{nanos:09}");
    match digits {
        None => {
            let trimmed = fraction.trim_end_matches('0');
            if !trimmed.is_empty() {
                text.push('.');
                text.push_str(trimmed);
            }
        }
        Some(n) => {
            text.push('.');
            text.push_str(&fraction[..n.min(9)]);
        }
    }
    match zone {
        Zone::Z => text.push('Z'),
        Zone::Offset(m) | Zone::SpaceOffset(m) => {
            let sign = match (zone, m < 0) {
                (_, true) => '-',
                (Zone::SpaceOffset(_), false) => ' ',
                _ => '+',
            };
            text.push_str(&format!("{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60));
        }
        Zone::Bare => {}
    }
    text
}

/// The service's canonical timestamp: RFC 3339 UTC, `Z`, fraction without trailing zeros.
pub fn canonical_ts(ns: i64) -> String {
    format_ts(ns, Zone::Z, None)
}

/// Fractional digits `ns` needs.
pub fn significant_digits(ns: i64) -> usize {
    format!("{:09}", ns.rem_euclid(NS))
        .trim_end_matches('0')
        .len()
}
