//! The request bodies both sides are checked on: a few hundred, deterministic (a fixed seed),
//! in every spelling the rules care about (amounts, timestamps, ids, labels with unicode,
//! escapes, whitespace, duplicate keys, wrong types, body-level errors, size limits).
//!
//! Used by `tests/server.rs` (the bindings answer what the ingest function answers) and by
//! `examples/vectors.rs` (the same cases with the native answers, for the Node tests that
//! run the .wasm on them).

/// "Now" of most cases: 2026-11-20T12:00:00Z, in milliseconds.
pub const NOW_MS: f64 = 1_795_176_000_000.0;

/// One request body and the time it is received.
#[derive(Debug, Clone)]
pub struct Case {
    pub body: String,
    pub now_ms: f64,
}

impl Case {
    fn at(body: impl Into<String>, now_ms: f64) -> Self {
        Case {
            body: body.into(),
            now_ms,
        }
    }
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// JSON values (as text) for each field, valid ones and invalid ones (picked 1 time in 12).
const CLIENT_IDS: (&[&str], &[&str]) = (
    &[
        r#""acme-prod""#,
        r#""c:1@x""#,
        r#""client.A_b-9""#,
        r#""a""#,
        r#""\u0061cme""#,
        r#""Z9:@._-""#,
    ],
    &[
        r#""""#,
        r#""has space""#,
        r#""ünïcode""#,
        r#""a/b""#,
        r#"" acme""#,
        r#""tab\t""#,
        "123",
        "true",
        "null",
        "[]",
        r#"{"id":"acme"}"#,
    ],
);

const EVENT_IDS: (&[&str], &[&str]) = (
    &[r#""evt-1""#, r#""a.b:c@d-e_f""#, "null"],
    &[r#""""#, r#""a b""#, r#""é""#, "5", "false"],
);

const SOURCES: (&[&str], &[&str]) = (
    &[
        r#""web""#,
        r#""  ios  ""#,
        r#""Käufe""#,
        r#""😀 emoji""#,
        r#""\ud83d\ude00""#,
        r#""日本語のソース""#,
        r#""\u00e9t\u00e9""#,
        r#""q\"uote\\back/slash""#,
        r#""\u2028sep""#,
        r#""\u00a0nbsp\u00a0""#,
        "null",
    ],
    &[
        r#""""#,
        r#""   ""#,
        r#""\u0000""#,
        r#""a\u007fb""#,
        r#""line\nbreak""#,
        "42",
        "{}",
    ],
);

const METRICS: (&[&str], &[&str]) = (
    &[
        r#""purchase""#,
        r#"" Käufe | total ""#,
        r#""\n purchase \t""#,
        r#""signup""#,
        r#""Ωmega""#,
        r#""🙂""#,
        r#""a|b""#,
        "null",
    ],
    &[r#""""#, r#""\u0007bell""#, r#""a\r\nb""#, "1.5", "[1]"],
);

const AMOUNTS: (&[&str], &[&str]) = (
    &[
        "12.5",
        r#""12.50""#,
        "12.500",
        "0",
        "-0",
        r#""-0""#,
        "-0.0",
        "1e1",
        "1E+1",
        r#""1e1""#,
        "10.000",
        "0.000000001",
        "1e-9",
        r#""+5""#,
        r#""+0.10""#,
        "999999999999999999.999999999",
        "-999999999999999999.999999999",
        "123456789012345678",
        "0.5e2",
        "5E-3",
        r#"".5""#,
        r#""5.""#,
        r#""007""#,
        "1e-400",
        "1e17",
        "-42",
        "null",
    ],
    &[
        "1e400",
        "0.0000000001",
        "1000000000000000000",
        "1e18",
        r#""abc""#,
        r#""NaN""#,
        r#""Infinity""#,
        r#""-Infinity""#,
        r#""1,5""#,
        r#""""#,
        r#"" 7 ""#,
        r#""0x10""#,
        r#""1_000""#,
        r#""١٢""#,
        "true",
        "[]",
        "{}",
    ],
);

const TIMESTAMPS: (&[&str], &[&str]) = (
    &[
        r#""2026-11-20T10:00:00+02:00""#,
        r#""2026-11-20T08:00:00Z""#,
        r#""2026-11-20t08:00:00z""#,
        r#""2026-11-20 08:00:00Z""#,
        r#""2026-11-20T08:00:00.123456789Z""#,
        r#""2026-11-20T08:00:00.1234567891Z""#,
        r#""2026-11-20T08:00:00.500Z""#,
        r#""2026-11-20T08:00:00.000Z""#,
        r#""2026-11-20T08:00:00""#,
        r#""2026-11-20T08:00:00 02:00""#,
        r#""2026-11-20T08:00:00-00:00""#,
        r#""2026-11-20T08:00:00+0200""#,
        r#""2026-11-20T08:00Z""#,
        r#""2026-11-20""#,
        r#""2028-02-29T00:00:00Z""#,
        r#""2026-11-20T23:59:60Z""#,
        r#""2026-11-21T12:00:00Z""#,
        r#""2026-11-21T12:00:00.000000001Z""#,
        r#""2026-11-21T14:00:00+02:00""#,
        r#""1970-01-01T00:00:00Z""#,
        r#""2020-06-01T12:34:56.789-07:30""#,
        "1795161600",
        "1795161600000",
        r#""1795161600""#,
        r#""1795161600000""#,
        "1795161600.5",
        "1795161600123.456",
        "1795262400",
        "1795262400001",
        "99999999999",
        "100000000000",
        "1e11",
        "1.7951616e9",
        "0",
        "-0",
    ],
    &[
        r#""20261120T080000Z""#,
        r#""+002026-11-20T08:00:00Z""#,
        r#""2026-11-20T08:00:00+24:00""#,
        r#""2026-02-29T00:00:00Z""#,
        r#""2026-02-30T00:00:00Z""#,
        r#""2026-11-20T24:00:00Z""#,
        r#""2027-01-01T00:00:00Z""#,
        r#""1969-12-31T23:59:59Z""#,
        r#""2262-04-11T23:47:16.854775807Z""#,
        r#""2262-04-11T23:47:16.854775808Z""#,
        r#""9999-12-31T23:59:59Z""#,
        r#""２０２６-11-20T08:00:00Z""#,
        "-1",
        "1e400",
        r#""now""#,
        r#""""#,
        "true",
        "{}",
        "null",
    ],
);

/// A valid value 11 times in 12, else an invalid one.
fn value<'a>(rng: &mut Rng, (valid, invalid): (&[&'a str], &[&'a str])) -> &'a str {
    if rng.chance(8) {
        rng.pick(invalid)
    } else {
        rng.pick(valid)
    }
}

const SIMULATE: &[&str] = &["false", "true", "null", r#""yes""#, "0"];

const WHITESPACE: &[&str] = &["", "", "", " ", "\n", "\t", "\r\n  "];

const EXTRAS: &[(&str, &str)] = &[
    ("extra", r#"{"nested":[1,2.5,{"a":null}],"b":"x"}"#),
    ("note", r#""these events are fine""#),
    ("tags", r#"["a","b"]"#),
    ("n", "1e400"),
    ("é", r#""\\""#),
];

/// The hand-written cases, then `generated` random events.
pub fn cases(generated: usize) -> Vec<Case> {
    let mut all = fixed();
    let mut rng = Rng(0x5eed_e7e4_7c0e_2026);
    for _ in 0..generated {
        let body = random_event(&mut rng);
        let now_ms = random_now(&mut rng);
        all.push(Case::at(body, now_ms));
    }
    all
}

fn random_now(rng: &mut Rng) -> f64 {
    match rng.below(10) {
        0 => NOW_MS + 0.5,
        1 => NOW_MS - 86_400_000.0,
        2 => 1_577_836_800_000.0 + (rng.next() % 400_000_000_000) as f64, // 2020..2032
        3 => NOW_MS + (rng.next() % 1_000_000) as f64 / 1000.0,
        _ => NOW_MS,
    }
}

/// One event object with random spellings, key order, whitespace and extra keys.
fn random_event(rng: &mut Rng) -> String {
    let ws = |rng: &mut Rng| rng.pick(WHITESPACE).to_owned();
    let mut payload: Vec<(String, String)> = Vec::new();
    if !rng.chance(5) {
        payload.push(("metric".into(), value(rng, METRICS).into()));
    }
    if !rng.chance(8) {
        payload.push(("amount".into(), value(rng, AMOUNTS).into()));
    }
    if !rng.chance(4) {
        payload.push(("timestamp".into(), value(rng, TIMESTAMPS).into()));
    }
    if rng.chance(5) {
        payload.push(("unit".into(), r#""EUR""#.into()));
    }
    if rng.chance(2) && !payload.is_empty() {
        let dup = payload[rng.below(payload.len())].clone();
        payload.push(dup);
    }
    shuffle(rng, &mut payload);

    let mut top: Vec<(String, String)> = Vec::new();
    if !rng.chance(5) {
        let key = if rng.chance(5) {
            r"client\u005fid"
        } else {
            "client_id"
        };
        top.push((key.into(), value(rng, CLIENT_IDS).into()));
    }
    if rng.chance(30) {
        top.push(("event_id".into(), value(rng, EVENT_IDS).into()));
    }
    if !rng.chance(15) {
        top.push(("source".into(), value(rng, SOURCES).into()));
    }
    let payload_text = match rng.below(40) {
        0 => "null".to_owned(),
        1 => "[]".to_owned(),
        2 => r#""payload""#.to_owned(),
        _ => object(rng, &payload),
    };
    if !rng.chance(3) {
        top.push(("payload".into(), payload_text));
    }
    if rng.chance(20) {
        top.push(("simulateFailure".into(), rng.pick(SIMULATE).into()));
    }
    if rng.chance(15) {
        let (key, value) = EXTRAS[rng.below(EXTRAS.len())];
        top.push((key.into(), value.into()));
    }
    if rng.chance(2) && !top.is_empty() {
        let dup = top[rng.below(top.len())].clone();
        top.push(dup);
    }
    shuffle(rng, &mut top);
    format!("{}{}{}", ws(rng), object(rng, &top), ws(rng))
}

fn object(rng: &mut Rng, fields: &[(String, String)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let ws = rng.pick(WHITESPACE);
        out.push_str(&format!("{ws}\"{key}\"{ws}:{ws}{value}"));
    }
    out.push_str(rng.pick(WHITESPACE));
    out.push('}');
    out
}

fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

fn event(client: &str, amount: &str, timestamp: &str) -> String {
    format!(
        r#"{{"client_id":{client},"source":"web","payload":{{"metric":"purchase","amount":{amount},"timestamp":{timestamp}}}}}"#
    )
}

/// Edge cases written out: body rules, limits, boundaries of the 24 h rule, escapes.
fn fixed() -> Vec<Case> {
    let ok = r#"{"client_id":"acme-prod","source":"web","payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}"#;
    let mut cases: Vec<Case> = [
        ok,
        r#"{"client_id":"acme-prod","source":"web","payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"},"simulateFailure":false}"#,
        r#"{"client_id":"acme-prod","event_id":"evt-1","payload":{"metric":"purchase","amount":12.5,"timestamp":1795161600}}"#,
        r#"{"client_id":"c:1@x","payload":{"timestamp":0}}"#,
        r#"{"client_id":"x","payload":{"metric":"m","amount":"999999999999999999.999999999","timestamp":"2026-11-20T08:00:00.123456789Z"}}"#,
        r#"{"client_id":"client.A_b-9","event_id":"a.b:c@d-e_f","payload":{"metric":" Käufe | total ","amount":"-1e-9","timestamp":"2026-11-20T08:00:00Z"}}"#,
        // body rules
        "",
        "   ",
        "{",
        "}",
        "[]",
        "[1,2]",
        r#""a string""#,
        "42",
        "-1.5e3",
        "true",
        "null",
        r#"{"a":1,}"#,
        r#"{"a":1} x"#,
        "{\"a\":1}\n{\"b\":2}",
        "\u{feff}{}",
        "{}",
        " { } ",
        r#"{"client_id":"a","payload":{"timestamp":0}"#,
        "{\"client_id\":\"a\nb\",\"payload\":{\"timestamp\":0}}",
        r#"{"client_id":"\ud800","payload":{"timestamp":0}}"#,
        r#"{"client_id":"acme","source":"\udc00x","payload":{"timestamp":0}}"#,
        r#"{"client_id":"acme","payload":{"metric":"\ud83d\ude00","timestamp":0}}"#,
        r#"{"client_id":"acme","payload":{"metric":"\q","timestamp":0}}"#,
        r#"{'client_id':'acme'}"#,
        r#"{"client_id":"acme","payload":{"amount":NaN,"timestamp":0}}"#,
        r#"{"client_id":"acme","payload":{"amount":01,"timestamp":0}}"#,
        r#"{"client_id":"acme","payload":{"amount":.5,"timestamp":0}}"#,
        r#"{"client_id":"acme","payload":{"amount":+1,"timestamp":0}}"#,
        r#"{"client_id":"acme","payload":{"amount":1.,"timestamp":0}}"#,
        // batches
        r#"{"events":[]}"#,
        r#"{"events":{}}"#,
        r#"{"events":null}"#,
        r#"{"events":"x"}"#,
        r#"{"events":[1],"events":[2]}"#,
        r#"{"\u0065vents":[]}"#,
        r#"{"\u0065vents":5}"#,
        r#"{"client_id":"acme","payload":{"timestamp":0},"events":[{"client_id":"b","payload":{"timestamp":0}}]}"#,
        r#"{"events":[{"client_id":"a","payload":{"timestamp":0}},{"client_id":"b"}]}"#,
        // the word "events" elsewhere (the general path of the body parser)
        r#"{"client_id":"acme","source":"events","payload":{"timestamp":0}}"#,
        r#"{"client_id":"acme","payload":{"events":1,"timestamp":0}}"#,
        r#"{"client_id":"acme","payload":{"metric":"x\"events","timestamp":0}}"#,
        // duplicate keys, spelled alike or not
        r#"{"client_id":"a","client_id":"a","payload":{"timestamp":0}}"#,
        r#"{"client_id":"a","client\u005fid":"b","payload":{"timestamp":0}}"#,
        r#"{"client_id":"a","payload":{"timestamp":0},"payload":{"timestamp":0}}"#,
        r#"{"client_id":"a","payload":{"timestamp":0,"x":1,"x":2}}"#,
        r#"{"client_id":"a","x":1,"x":2,"payload":{"timestamp":0}}"#,
        r#"{"client_id":"a","payload":{"timestamp":0,"amount":1,"amount":1}}"#,
        r#"{"client_id":"a","simulateFailure":true,"simulateFailure":true,"payload":{"timestamp":0}}"#,
        // wrong types, in rule order
        r#"{"client_id":5,"event_id":5,"source":5,"payload":5}"#,
        r#"{"client_id":"a","event_id":[],"payload":{"timestamp":0}}"#,
        r#"{"client_id":"a","source":true,"payload":{"timestamp":0}}"#,
        r#"{"client_id":"a","payload":{"metric":{},"amount":"x","timestamp":"y"}}"#,
        r#"{"client_id":"a","payload":{"amount":"x","timestamp":"y"}}"#,
        r#"{"client_id":"a","payload":{"timestamp":"y"},"simulateFailure":"y"}"#,
        r#"{"client_id":"a","payload":{"timestamp":0},"simulateFailure":1}"#,
        r#"{"client_id":"a","payload":{"timestamp":0},"simulateFailure":true}"#,
        r#"{"client_id":"a","payload":{}}"#,
        r#"{"client_id":"a"}"#,
        r#"{"client_id":"a","payload":null}"#,
        r#"{"payload":{"timestamp":0}}"#,
        r#"{"client_id":null,"payload":{"timestamp":0}}"#,
    ]
    .into_iter()
    .map(|body| Case::at(body, NOW_MS))
    .collect();

    // long values, in characters and in bytes
    let long_ids = [
        ("x".repeat(128), "x".repeat(128)),
        ("x".repeat(129), "x".repeat(128)),
        ("x".repeat(128), "é".repeat(128)),
        ("x".repeat(128), "é".repeat(129)),
        ("y".repeat(300), "🙂".repeat(200)),
    ];
    for (id, label) in long_ids {
        cases.push(Case::at(
            format!(
                r#"{{"client_id":"{id}","event_id":"{id}","source":"{label}","payload":{{"metric":"{label}","timestamp":0}}}}"#
            ),
            NOW_MS,
        ));
    }
    let long_echo = format!(
        r#"{{"client_id":"acme","payload":{{"amount":"{}","timestamp":0}}}}"#,
        "9".repeat(100)
    );
    cases.push(Case::at(long_echo, NOW_MS));
    cases.push(Case::at(
        format!(
            r#"{{"client_id":"acme","payload":{{"timestamp":"{}"}}}}"#,
            "\\u0001ü".repeat(70)
        ),
        NOW_MS,
    ));

    // the 24 h rule at its boundary, with whole and fractional receive times
    for (timestamp, now_ms) in [
        (r#""2026-11-21T12:00:00Z""#, NOW_MS),
        (r#""2026-11-21T12:00:00.000000001Z""#, NOW_MS),
        (r#""2026-11-21T12:00:00.001Z""#, NOW_MS + 1.0),
        (r#""2026-11-21T12:00:00.0015Z""#, NOW_MS + 1.0),
        (r#""2026-11-21T12:00:00.0005Z""#, NOW_MS + 0.5),
        (r#""2026-11-21T12:00:00.000500001Z""#, NOW_MS + 0.5),
        ("1795262400", NOW_MS),
        ("1795262401", NOW_MS),
        ("1795262400000", NOW_MS),
        ("1795262400001", NOW_MS),
        (r#""1970-01-02T00:00:00Z""#, 0.0),
        (r#""1970-01-02T00:00:00.000000001Z""#, 0.0),
        (r#""1970-01-01T00:00:00Z""#, -5.0),
        (r#""2262-04-11T23:47:16.854775807Z""#, 9_223_372_036_854.775),
        (r#""2262-04-11T23:47:16.854775807Z""#, 1e300),
        (r#""2262-04-11T23:47:16.854775807Z""#, 9_223_285_636_854.775),
        (r#""2262-04-11T23:47:16.854775807Z""#, 9_223_285_636_854.776),
        (r#""2026-11-20T08:00:00Z""#, 4.9e-324),
        (r#""2026-11-20T08:00:00Z""#, 1_795_161_600_000.123),
    ] {
        cases.push(Case::at(event(r#""acme""#, r#""1""#, timestamp), now_ms));
    }

    // size limits: a body over 1 MiB, a single event over 32 KiB, one exactly at it, and
    // multi-byte characters around it (the limits count UTF-8 bytes)
    let pad = |bytes: usize, unit: &str| unit.repeat(bytes / unit.len());
    let at_size = |size: usize, unit: &str| {
        let head = r#"{"client_id":"acme","payload":{"timestamp":0},"pad":""#;
        let tail = r#""}"#;
        let mut body = format!("{head}{}", pad(size - head.len() - tail.len(), unit));
        while body.len() + tail.len() < size {
            body.push('x');
        }
        body.push_str(tail);
        body
    };
    for (size, unit) in [
        (32 * 1024, "x"),
        (32 * 1024 + 1, "x"),
        (32 * 1024, "é"),
        (32 * 1024 + 1, "€"),
        (32 * 1024 - 1, "🙂"),
        (40 * 1024, "x"),
        (1024 * 1024, "x"),
        (1024 * 1024 + 1, "x"),
        (1024 * 1024 + 3, "€"),
    ] {
        cases.push(Case::at(at_size(size, unit), NOW_MS));
    }
    let many = vec![r#"{"client_id":"a","payload":{"timestamp":0}}"#; 501].join(",");
    cases.push(Case::at(format!(r#"{{"events":[{many}]}}"#), NOW_MS));
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    cases.push(Case::at(
        format!(r#"{{"client_id":"acme","payload":{{"timestamp":0}},"deep":{deep}}}"#),
        NOW_MS,
    ));
    cases.push(Case::at(deep, NOW_MS));
    cases
}
