//! Properties of normalization and identity, over generated events:
//!
//! - normalization is idempotent (a normalized event, written back as an event, normalizes
//!   to itself with the same hash);
//! - every spelling of one event (timestamp offsets and epoch forms, `10` / `10.00` /
//!   `"1e1"`, key order, whitespace, source) has one hash;
//! - the identity encoding is injective (it decodes back to the tuple it encodes, even
//!   with `|` and other delimiter characters in fields);
//! - no input panics: arbitrary bytes into `parse_body`, arbitrary JSON into
//!   `normalize_event`, arbitrary text into every parser.

use chrono::DateTime;
use event_core::hash::{identity_encoding, ENCODING_TAG};
use event_core::{
    normalize_event, parse_body, peek_client_id, Amount, AmountSum, ClientId, EventId,
    EventTimestamp, Metric, NormalizedEvent, ParsedEvent, Source,
};
use proptest::prelude::*;
use serde_json::json;
use serde_json::value::RawValue;

/// Every error code `normalize_event` may give.
const EVENT_CODES: &[&str] = &[
    "event_too_large",
    "not_an_object",
    "missing_client_id",
    "invalid_client_id",
    "invalid_event_id",
    "invalid_source",
    "invalid_metric",
    "invalid_amount",
    "missing_timestamp",
    "invalid_timestamp",
    "timestamp_in_future",
    "invalid_field",
    "invalid_json",
];

fn normalize_text(text: &str) -> Result<ParsedEvent, event_core::EventError> {
    let raw = RawValue::from_string(text.to_owned()).expect("generated JSON is valid");
    // Received at the last instant: every representable timestamp is acceptable.
    normalize_event(&raw, EventTimestamp::MAX)
}

/// The fields that make one event, in canonical form.
#[derive(Debug, Clone)]
struct Fields {
    client_id: String,
    source: Option<String>,
    metric: Option<String>,
    amount_nanos: i128,
    timestamp_nanos: i64,
    event_id: Option<String>,
    simulate_failure: Option<bool>,
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._:@-]{1,24}"
}

fn label() -> impl Strategy<Value = String> {
    // Trimmed already: starts and ends with a non-space.
    "[A-Za-z0-9|é_#/\\\\\"]([A-Za-z0-9|é_ #/\\\\\"]{0,20}[A-Za-z0-9|é_#/\\\\\"])?"
}

fn amount_nanos() -> impl Strategy<Value = i128> {
    let max = Amount::MAX.nano_units();
    prop_oneof![
        -max..=max,
        (-1_000_000i128..1_000_000).prop_map(|units| units * 1_000_000_000),
        (-1000i128..1000).prop_map(|cents| cents * 10_000_000),
        -1000i128..1000,
        Just(0i128),
        Just(max),
        Just(-max),
    ]
}

fn timestamp_nanos() -> impl Strategy<Value = i64> {
    prop_oneof![
        0..=i64::MAX,
        (0i64..9_000_000_000).prop_map(|s| s * 1_000_000_000),
        (100_000_001i64..9_000_000_000_000).prop_map(|ms| ms * 1_000_000),
        Just(0),
        Just(i64::MAX),
    ]
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        id(),
        proptest::option::of(label()),
        proptest::option::of(label()),
        amount_nanos(),
        timestamp_nanos(),
        proptest::option::of(id()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(
                client_id,
                source,
                metric,
                amount_nanos,
                timestamp_nanos,
                event_id,
                simulate_failure,
            )| {
                Fields {
                    client_id,
                    source,
                    metric,
                    amount_nanos,
                    timestamp_nanos,
                    event_id,
                    simulate_failure,
                }
            },
        )
}

impl Fields {
    fn expected(&self) -> NormalizedEvent {
        NormalizedEvent {
            client_id: ClientId::parse(&self.client_id).unwrap(),
            source: self
                .source
                .as_deref()
                .map_or_else(Source::unknown, |s| Source::parse(s).unwrap()),
            metric: self
                .metric
                .as_deref()
                .map_or_else(Metric::unknown, |m| Metric::parse(m).unwrap()),
            amount: Amount::from_nano_units(self.amount_nanos).unwrap(),
            timestamp: EventTimestamp::from_unix_nanos(self.timestamp_nanos).unwrap(),
            event_id: self.event_id.as_deref().map(|e| EventId::parse(e).unwrap()),
        }
    }
}

/// How to spell an event: every choice keeps its meaning.
#[derive(Debug, Clone)]
struct Spelling {
    amount_form: u8,
    amount_as_string: bool,
    timestamp_form: u8,
    offset_minutes: i32,
    key_order_seed: u64,
    space: &'static str,
    pad_labels: bool,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    (
        0u8..5,
        any::<bool>(),
        0u8..6,
        -(23 * 60 + 59)..=(23 * 60 + 59),
        any::<u64>(),
        prop_oneof![Just(""), Just(" "), Just("\n\t "), Just("\r\n")],
        any::<bool>(),
    )
        .prop_map(
            |(
                amount_form,
                amount_as_string,
                timestamp_form,
                offset_minutes,
                key_order_seed,
                space,
                pad_labels,
            )| {
                Spelling {
                    amount_form,
                    amount_as_string,
                    timestamp_form,
                    offset_minutes,
                    key_order_seed,
                    space,
                    pad_labels,
                }
            },
        )
}

/// The decimal digits of |nanos| as (integer digits, 9 fraction digits).
fn split_amount(nanos: i128) -> (String, String, &'static str) {
    let sign = if nanos < 0 { "-" } else { "" };
    let magnitude = nanos.unsigned_abs();
    (
        (magnitude / 1_000_000_000).to_string(),
        format!("{:09}", magnitude % 1_000_000_000),
        sign,
    )
}

fn spell_amount(nanos: i128, form: u8, as_string: bool) -> String {
    let canonical = Amount::from_nano_units(nanos).unwrap().to_string();
    let (int, frac, sign) = split_amount(nanos);
    let text = match form {
        0 => canonical,
        // Trailing zeros (a point with 9 digits, then more zeros).
        1 => format!("{sign}{int}.{frac}000"),
        // All digits as an integer mantissa with a negative exponent.
        2 => {
            let digits = format!("{int}{frac}");
            let digits = digits.trim_start_matches('0');
            let digits = if digits.is_empty() { "0" } else { digits };
            format!("{sign}{digits}e-9")
        }
        // Scientific: d.ddd E+k
        3 => {
            let digits = format!("{int}{frac}");
            let trimmed = digits.trim_start_matches('0');
            if trimmed.is_empty() {
                "0E+5".to_owned()
            } else {
                let exponent = trimmed.len() as i64 - 1 - 9;
                format!("{sign}{}.{}0E{exponent:+}", &trimmed[..1], &trimmed[1..])
            }
        }
        // A leading '+' (strings only) or "-0"-style zero.
        _ if as_string && sign.is_empty() => format!("+{canonical}"),
        _ if nanos == 0 => "-0.0".to_owned(),
        _ => canonical,
    };
    if as_string {
        json!(text).to_string()
    } else {
        text
    }
}

fn offset_text(minutes: i32, style: u8) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    match style % 3 {
        0 => format!("{sign}{h:02}:{m:02}"),
        1 => format!("{sign}{h:02}{m:02}"),
        // query-string style: '+' became a space
        _ if sign == '+' => format!(" {h:02}:{m:02}"),
        _ => format!("{sign}{h:02}:{m:02}"),
    }
}

fn spell_timestamp(nanos: i64, form: u8, offset_minutes: i32) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000);
    let fraction = if sub == 0 {
        String::new()
    } else {
        format!(".{sub:09}")
    };
    match form {
        // Epoch seconds as a JSON number (with fraction), or ms when exact to the ms.
        0 => format!("{seconds}{fraction}"),
        1 if sub % 1_000_000 == 0 && seconds >= 100_000_000 => {
            format!("{}", i128::from(nanos) / 1_000_000)
        }
        2 if sub == 0 => json!(seconds.to_string()).to_string(),
        // UTC with Z, no offset, or a space separator.
        3 => {
            let dt = DateTime::from_timestamp(seconds, 0).unwrap();
            json!(format!("{}{fraction}Z", dt.format("%Y-%m-%dT%H:%M:%S"))).to_string()
        }
        4 => {
            let dt = DateTime::from_timestamp(seconds, 0).unwrap();
            json!(format!("{}{fraction}", dt.format("%Y-%m-%d %H:%M:%S"))).to_string()
        }
        // Local time at an offset.
        _ => {
            let local = seconds + i64::from(offset_minutes) * 60;
            let dt = DateTime::from_timestamp(local, 0).unwrap();
            json!(format!(
                "{}{fraction}{}",
                dt.format("%Y-%m-%dT%H:%M:%S"),
                offset_text(offset_minutes, (seconds % 7) as u8)
            ))
            .to_string()
        }
    }
}

fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        items.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

fn object(mut entries: Vec<(String, String)>, seed: u64, space: &str) -> String {
    shuffle(&mut entries, seed);
    let body: Vec<String> = entries
        .into_iter()
        .map(|(k, v)| format!("{space}{}{space}:{space}{v}{space}", json!(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn spell(f: &Fields, s: &Spelling) -> String {
    let pad = |text: &str| {
        if s.pad_labels {
            format!("  {text}\t")
        } else {
            text.to_owned()
        }
    };
    let mut payload = vec![
        (
            "amount".to_owned(),
            spell_amount(f.amount_nanos, s.amount_form, s.amount_as_string),
        ),
        (
            "timestamp".to_owned(),
            spell_timestamp(f.timestamp_nanos, s.timestamp_form, s.offset_minutes),
        ),
    ];
    if let Some(metric) = &f.metric {
        payload.push(("metric".to_owned(), json!(pad(metric)).to_string()));
    }
    let mut top = vec![
        ("client_id".to_owned(), json!(f.client_id).to_string()),
        (
            "payload".to_owned(),
            object(payload, s.key_order_seed.rotate_left(17), s.space),
        ),
    ];
    if let Some(source) = &f.source {
        top.push(("source".to_owned(), json!(pad(source)).to_string()));
    }
    if let Some(event_id) = &f.event_id {
        top.push(("event_id".to_owned(), json!(event_id).to_string()));
    }
    if let Some(flag) = f.simulate_failure {
        top.push(("simulateFailure".to_owned(), flag.to_string()));
    }
    object(top, s.key_order_seed, s.space)
}

/// A normalized event written back in the input shape.
fn as_input(parsed: &ParsedEvent) -> String {
    let flat = serde_json::to_value(&parsed.event).unwrap();
    let mut input = json!({
        "client_id": flat["client_id"],
        "source": flat["source"],
        "payload": {
            "metric": flat["metric"],
            "amount": flat["amount"],
            "timestamp": flat["timestamp"],
        },
        "simulateFailure": parsed.simulate_failure,
    });
    if let Some(id) = flat.get("event_id") {
        input["event_id"] = id.clone();
    }
    input.to_string()
}

/// Reads an identity encoding back into its fields; `None` if it is not well formed.
#[allow(clippy::type_complexity)]
fn decode(bytes: &[u8]) -> Option<(String, String, String, String, Option<String>)> {
    let mut rest = bytes.strip_prefix(ENCODING_TAG)?;
    let field = |rest: &mut &[u8]| -> Option<String> {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        let (text, tail) = (tail.get(..len)?, tail.get(len..)?);
        *rest = tail;
        String::from_utf8(text.to_vec()).ok()
    };
    let client_id = field(&mut rest)?;
    let metric = field(&mut rest)?;
    let amount = field(&mut rest)?;
    let timestamp = field(&mut rest)?;
    let (marker, mut tail) = rest.split_first()?;
    let event_id = match marker {
        0 => None,
        1 => Some(field(&mut tail)?),
        _ => return None,
    };
    tail.is_empty()
        .then_some((client_id, metric, amount, timestamp, event_id))
}

/// JSON text with the event's field names likely to appear, and odd numbers and strings.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,25})?([eE][+-]?[0-9]{1,12})?",
        any::<String>().prop_map(|s| json!(s).to_string()),
        "[0-9:TZ+. -]{0,30}".prop_map(|s| json!(s).to_string()),
        "[A-Za-z0-9._:@|-]{0,10}".prop_map(|s| json!(s).to_string()),
    ];
    let key = prop_oneof![
        Just("client_id".to_owned()),
        Just("source".to_owned()),
        Just("payload".to_owned()),
        Just("metric".to_owned()),
        Just("amount".to_owned()),
        Just("timestamp".to_owned()),
        Just("event_id".to_owned()),
        Just("simulateFailure".to_owned()),
        Just("events".to_owned()),
        any::<String>(),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6)
                .prop_map(|items| format!("[{}]", items.join(","))),
            proptest::collection::vec((key.clone(), inner), 0..8).prop_map(|entries| {
                let body: Vec<String> = entries
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", json!(k)))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

proptest! {
    // 512 cases by default; PROPTEST_CASES=100000 for a long run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn normalization_gives_the_expected_canonical_fields(f in fields(), s in spelling()) {
        let text = spell(&f, &s);
        let parsed = normalize_text(&text).map_err(|e| TestCaseError::fail(format!("{text}: {}", e.message())))?;
        prop_assert_eq!(&parsed.event, &f.expected(), "{}", text);
        prop_assert_eq!(parsed.simulate_failure, f.simulate_failure.unwrap_or(false));
    }

    #[test]
    fn normalization_is_idempotent(f in fields(), s in spelling()) {
        let first = normalize_text(&spell(&f, &s)).unwrap();
        let again = normalize_text(&as_input(&first)).unwrap();
        prop_assert_eq!(&again, &first);
        prop_assert_eq!(again.hash, first.hash);
    }

    #[test]
    fn every_spelling_of_an_event_has_one_hash(f in fields(), a in spelling(), b in spelling(), other_source in proptest::option::of(label())) {
        let first = normalize_text(&spell(&f, &a)).unwrap();
        let mut g = f.clone();
        g.source = other_source;
        g.simulate_failure = Some(!f.simulate_failure.unwrap_or(false));
        let text = spell(&g, &b);
        let second = normalize_text(&text).unwrap();
        prop_assert_eq!(first.hash, second.hash, "{}", text);
    }

    #[test]
    fn the_identity_encoding_decodes_back_to_its_fields(f in fields()) {
        let event = f.expected();
        let decoded = decode(&identity_encoding(&event));
        prop_assert_eq!(decoded, Some((
            event.client_id.as_str().to_owned(),
            event.metric.as_str().to_owned(),
            event.amount.to_string(),
            event.timestamp.to_string(),
            event.event_id.as_ref().map(|e| e.as_str().to_owned()),
        )));
    }

    #[test]
    fn distinct_identities_never_share_an_encoding(
        a in ("[ab:]{1,3}", "[ab|]{1,3}", 0i128..3, 0i64..2, proptest::option::of("[ab:]{1,3}")),
        b in ("[ab:]{1,3}", "[ab|]{1,3}", 0i128..3, 0i64..2, proptest::option::of("[ab:]{1,3}")),
    ) {
        let make = |(c, m, n, t, e): &(String, String, i128, i64, Option<String>)| NormalizedEvent {
            client_id: ClientId::parse(c).unwrap(),
            source: Source::unknown(),
            metric: Metric::parse(m).unwrap(),
            amount: Amount::from_nano_units(*n).unwrap(),
            timestamp: EventTimestamp::from_unix_nanos(*t).unwrap(),
            event_id: e.as_deref().map(|e| EventId::parse(e).unwrap()),
        };
        let (ea, eb) = (make(&a), make(&b));
        prop_assert_eq!(a == b, identity_encoding(&ea) == identity_encoding(&eb));
        prop_assert_eq!(a == b, ea.hash() == eb.hash());
    }

    #[test]
    fn amounts_display_and_parse_back(n in amount_nanos()) {
        let amount = Amount::from_nano_units(n).unwrap();
        let text = amount.to_string();
        prop_assert_eq!(Amount::parse(&text).unwrap(), amount);
        prop_assert_eq!(AmountSum::parse(&text), Some(AmountSum::from(amount)));
        prop_assert!(!text.contains('+'));
        prop_assert!(!(text.contains('.') && text.ends_with('0')));
    }

    #[test]
    fn timestamps_display_and_parse_back(n in timestamp_nanos()) {
        let ts = EventTimestamp::from_unix_nanos(n).unwrap();
        prop_assert_eq!(EventTimestamp::parse(&ts.to_string()).unwrap(), ts);
        prop_assert_eq!(ts.hour_key().len(), 10);
    }

    #[test]
    fn no_bytes_make_parse_body_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(body) = parse_body(&bytes) {
            for raw in body.events() {
                let _ = normalize_event(raw, EventTimestamp::MAX);
                let _ = peek_client_id(raw);
            }
        }
    }

    #[test]
    fn no_edit_of_a_valid_body_makes_parsing_panic(
        f in fields(), s in spelling(), batch in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let event = spell(&f, &s);
        let text = if batch { format!("{{\"events\":[{event},{event}]}}") } else { event };
        let mut bytes = text.into_bytes();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(body) = parse_body(&bytes) {
            for raw in body.events() {
                let _ = normalize_event(raw, EventTimestamp::MIN);
            }
        }
    }

    #[test]
    fn no_json_makes_normalize_panic_and_errors_are_typed(text in json_text()) {
        let raw = RawValue::from_string(text.clone()).unwrap();
        match normalize_event(&raw, EventTimestamp::parse("2026-11-21T00:00:00Z").unwrap()) {
            Ok(parsed) => {
                // Whatever was accepted is stable under a second normalization.
                let again = normalize_text(&as_input(&parsed)).unwrap();
                prop_assert_eq!(again.hash, parsed.hash);
            }
            Err(err) => {
                prop_assert!(EVENT_CODES.contains(&err.code()), "{}", err.code());
                prop_assert!(err.message().ends_with('.'), "{}", err.message());
            }
        }
        let _ = peek_client_id(&raw);
        let wrapped = format!("{{\"events\":[{text}]}}");
        prop_assert!(parse_body(wrapped.as_bytes()).is_ok());
        let _ = parse_body(text.as_bytes());
    }

    #[test]
    fn no_text_makes_the_field_parsers_panic(text in prop_oneof![any::<String>(), "[-+0-9.eE]{0,40}", "[0-9T:+Z. -]{0,35}"]) {
        let _ = Amount::parse(&text);
        let _ = AmountSum::parse(&text);
        let _ = EventTimestamp::parse(&text);
        let _ = EventTimestamp::parse_bound(&text);
        let _ = EventTimestamp::from_epoch_number(&text);
        let _ = ClientId::parse(&text);
        let _ = Source::parse(&text);
        let _ = Metric::parse(&text);
        let _ = event_core::EventHash::from_hex(&text);
    }
}

#[test]
fn given_json_nested_10000_deep_when_parsed_and_normalized_then_a_typed_answer_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for (text, code) in [
        (
            format!(r#"{{"client_id":"a","x":{deep}}}"#),
            "missing_timestamp",
        ),
        (
            format!(r#"{{"client_id":"a","payload":{deep}}}"#),
            "invalid_field",
        ),
        (format!(r#"{{"client_id":{deep}}}"#), "invalid_client_id"),
        (
            format!(r#"{{"client_id":"a","payload":{{"amount":{deep}}}}}"#),
            "invalid_amount",
        ),
    ] {
        let body = parse_body(text.as_bytes()).unwrap();
        let err = normalize_event(body.events()[0], EventTimestamp::MAX).unwrap_err();
        assert_eq!(err.code(), code, "{}", err.message());
    }
    let batch = format!(r#"{{"events":[{deep}]}}"#);
    let body = parse_body(batch.as_bytes()).unwrap();
    assert_eq!(
        normalize_event(body.events()[0], EventTimestamp::MAX)
            .unwrap_err()
            .code(),
        "not_an_object"
    );
}
