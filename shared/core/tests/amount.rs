//! `Amount` and `AmountSum`: exact decimal text in, canonical text out, never a float.

use event_core::{Amount, AmountSum};

fn canonical(text: &str) -> String {
    Amount::parse(text)
        .unwrap_or_else(|e| panic!("{text}: {}", e.message()))
        .to_string()
}

#[test]
fn given_equal_values_in_different_spellings_when_parsed_then_one_amount() {
    for spelling in [
        "10",
        "10.0",
        "10.000000000000",
        "1e1",
        "1E1",
        "1e+1",
        "+10",
        "100e-1",
        "0.01e3",
    ] {
        assert_eq!(canonical(spelling), "10", "{spelling}");
    }
}

#[test]
fn given_values_when_displayed_then_canonical_without_trailing_zeros_or_plus() {
    for (text, expected) in [
        ("12.50", "12.5"),
        ("-0.001", "-0.001"),
        ("-0", "0"),
        ("+0.0", "0"),
        ("0", "0"),
        ("100", "100"),
        ("-100.10", "-100.1"),
        ("0.000000001", "0.000000001"),
        ("1E-3", "0.001"),
        ("1.5000000000", "1.5"),
        (
            "999999999999999999.999999999",
            "999999999999999999.999999999",
        ),
        (
            "-999999999999999999.999999999",
            "-999999999999999999.999999999",
        ),
        ("000", "0"),
    ] {
        if text == "000" {
            // Leading zeros are not JSON number grammar.
            assert!(Amount::parse(text).is_err());
            continue;
        }
        assert_eq!(canonical(text), expected, "{text}");
    }
}

#[test]
fn given_amounts_at_the_digit_limits_when_parsed_then_18_integer_and_9_fraction_digits_fit() {
    assert!(Amount::parse("123456789012345678").is_ok());
    assert!(Amount::parse("1234567890123456789").is_err());
    assert!(Amount::parse("0.123456789").is_ok());
    assert!(Amount::parse("0.1234567891").is_err());
    assert!(Amount::parse("0.0000000001").is_err());
    assert!(Amount::parse("1e17").is_ok());
    assert!(Amount::parse("1e18").is_err());
    assert!(Amount::parse("1e-9").is_ok());
    assert!(Amount::parse("1e-10").is_err());
    // Trailing zeros and leading zeros after the point do not count against the limits.
    assert!(Amount::parse("1.1000000000000000000000").is_ok());
    assert!(Amount::parse("123456789012345678.123456789000").is_ok());
    assert!(Amount::parse("1230000000000000000e-10").is_ok());
}

#[test]
fn given_huge_exponents_when_parsed_then_rejected_quickly_without_expanding_digits() {
    for text in [
        "1e999999999",
        "1e-999999999",
        "1e99999999999999999999999999",
        "-1E+999999999999",
        "0.5e-999999999",
    ] {
        assert!(Amount::parse(text).is_err(), "{text}");
    }
    // Zero stays zero whatever its exponent.
    assert_eq!(canonical("0e999999999"), "0");
    assert_eq!(canonical("0.000e-999999999"), "0");
}

#[test]
fn given_very_long_digit_strings_when_parsed_then_only_significant_digits_count() {
    let zeros = "0".repeat(100_000);
    assert_eq!(canonical(&format!("1.{zeros}")), "1");
    assert_eq!(canonical(&format!("0.{zeros}")), "0");
    assert!(Amount::parse(&format!("0.{zeros}1")).is_err());
    assert!(Amount::parse(&format!("1{zeros}")).is_err());
}

#[test]
fn given_text_that_is_not_a_json_number_when_parsed_then_invalid_amount() {
    for text in [
        "",
        " ",
        "abc",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        " 1",
        "1 ",
        "1.",
        ".1",
        "-",
        "+",
        "--1",
        "+-1",
        "1e",
        "1e+",
        "0x1",
        "1,5",
        "1_0",
        "01",
        "-01",
        "1.2.3",
        "١",
    ] {
        let err = Amount::parse(text).expect_err(text);
        assert_eq!(err.code(), "invalid_amount");
        assert_eq!(err.field(), Some("payload.amount"));
    }
}

#[test]
fn given_amounts_when_compared_then_order_is_numeric() {
    let a = Amount::parse("9.99").unwrap();
    let b = Amount::parse("10").unwrap();
    assert!(a < b);
    assert_eq!(b.nano_units(), 10_000_000_000);
    assert_eq!(
        Amount::from_nano_units(1),
        Amount::parse("0.000000001").ok()
    );
    assert_eq!(Amount::from_nano_units(Amount::MAX.nano_units() + 1), None);
}

#[test]
fn given_an_amount_when_serialized_then_it_is_a_json_string() {
    let a = Amount::parse("1e2").unwrap();
    assert_eq!(serde_json::to_string(&a).unwrap(), "\"100\"");
}

#[test]
fn given_dynamodb_number_text_when_parsed_as_sum_then_exact() {
    for (text, expected) in [
        ("123.45", "123.45"),
        ("-7", "-7"),
        ("1E+3", "1000"),
        ("1.5E-7", "0.00000015"),
        ("0", "0"),
        ("-0", "0"),
        (
            "99999999999999999999999999999",
            "99999999999999999999999999999",
        ),
        (
            "99999999999999999999.999999999",
            "99999999999999999999.999999999",
        ),
    ] {
        assert_eq!(
            AmountSum::parse(text).unwrap().to_string(),
            expected,
            "{text}"
        );
    }
}

#[test]
fn given_sum_text_that_does_not_fit_when_parsed_then_none() {
    for text in [
        "abc",
        "",
        "1e-10",
        "0.0000000001",
        "1e30",
        "1e400",
        "NaN",
        "1,0",
    ] {
        assert_eq!(AmountSum::parse(text), None, "{text}");
    }
}

#[test]
fn given_many_max_amounts_when_summed_then_the_sum_stays_exact() {
    let max = AmountSum::from(Amount::MAX);
    let mut sum = AmountSum::ZERO;
    for _ in 0..1000 {
        sum = sum.checked_add(max).unwrap();
    }
    assert_eq!(sum.to_string(), "999999999999999999999.999999");
    assert_eq!(AmountSum::parse(&sum.to_string()), Some(sum));
    let near_max = AmountSum::from_nano_units(i128::MAX);
    assert_eq!(near_max.checked_add(AmountSum::from_nano_units(1)), None);
}

#[test]
fn given_a_sum_when_displayed_and_parsed_back_then_it_round_trips() {
    for nanos in [
        0i128,
        1,
        -1,
        10,
        1_000_000_000,
        -1_234_567_890_123,
        i128::MAX / 10,
    ] {
        let sum = AmountSum::from_nano_units(nanos);
        assert_eq!(AmountSum::parse(&sum.to_string()), Some(sum), "{sum}");
    }
}
