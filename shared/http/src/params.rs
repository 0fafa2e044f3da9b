//! Query parameters the read endpoints share (`client_id`, `from`/`to`, `limit`,
//! `cursor`), parsed into core types or a typed 400 naming the parameter.

use event_core::{ClientId, EventError, EventTimestamp, Metric};

use crate::{ApiError, ErrorCode, Query};

/// Page size when `limit` is absent, and the largest one allowed (the message of
/// `ErrorCode::InvalidLimit` names it).
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// `client_id` when given.
pub fn optional_client_id(query: &Query) -> Result<Option<ClientId>, ApiError> {
    query.get("client_id").map(parse_client_id).transpose()
}

/// `client_id`, required (aggregates are always per client).
pub fn required_client_id(query: &Query) -> Result<ClientId, ApiError> {
    let text = query
        .get("client_id")
        .ok_or_else(|| ApiError::about(ErrorCode::MissingClientId, "client_id"))?;
    parse_client_id(text)
}

fn parse_client_id(text: &str) -> Result<ClientId, ApiError> {
    ClientId::parse(text).map_err(|error| invalid("client_id", error))
}

/// `metric` when given.
pub fn optional_metric(query: &Query) -> Result<Option<Metric>, ApiError> {
    query
        .get("metric")
        .map(|text| Metric::parse(text).map_err(|error| invalid("metric", error)))
        .transpose()
}

/// `from` and `to` (each optional; open when absent), with `to > from` when both are set.
pub fn time_range(
    query: &Query,
) -> Result<(Option<EventTimestamp>, Option<EventTimestamp>), ApiError> {
    let from = bound(query, "from")?;
    let to = bound(query, "to")?;
    if let (Some(from), Some(to)) = (from, to) {
        if to <= from {
            return Err(ApiError::about(ErrorCode::InvalidRange, "to"));
        }
    }
    Ok((from, to))
}

/// The longest hourly series: 31 days.
pub const MAX_HOURLY_HOURS: i64 = 31 * 24;

/// `from` and `to` of an hourly series: both required, on whole hours, `to` later than
/// `from` by at most 31 days.
pub fn hourly_range(query: &Query) -> Result<(EventTimestamp, EventTimestamp), ApiError> {
    const HOUR_NS: i64 = 3_600_000_000_000;
    let required = |name: &'static str| -> Result<EventTimestamp, ApiError> {
        let at = bound(query, name)?.ok_or_else(|| ApiError::Code {
            code: ErrorCode::InvalidRange,
            field: Some(name),
            message: Some(format!("{name} is required for an hourly series.")),
        })?;
        if at.unix_nanos() % HOUR_NS != 0 {
            return Err(ApiError::Code {
                code: ErrorCode::InvalidRange,
                field: Some(name),
                message: Some(format!(
                    "{name} must be on a whole hour (such as 2026-11-20T08:00:00Z)."
                )),
            });
        }
        Ok(at)
    };
    let (from, to) = (required("from")?, required("to")?);
    if to <= from {
        return Err(ApiError::about(ErrorCode::InvalidRange, "to"));
    }
    if (to.unix_nanos() - from.unix_nanos()) / HOUR_NS > MAX_HOURLY_HOURS {
        return Err(ApiError::Code {
            code: ErrorCode::InvalidRange,
            field: Some("to"),
            message: Some("An hourly series spans at most 31 days (744 hours).".to_owned()),
        });
    }
    Ok((from, to))
}

fn bound(query: &Query, name: &'static str) -> Result<Option<EventTimestamp>, ApiError> {
    query
        .get(name)
        .map(|text| EventTimestamp::parse_bound(text).map_err(|error| invalid(name, error)))
        .transpose()
}

/// The core's rejection (its code and its sentence) re-aimed at query parameter `name`.
fn invalid(name: &'static str, error: EventError) -> ApiError {
    ApiError::Param {
        name,
        error: error.with_field(name),
    }
}

/// `limit`: default 50, 1 to 500.
pub fn limit(query: &Query) -> Result<u32, ApiError> {
    let Some(text) = query.get("limit") else {
        return Ok(DEFAULT_LIMIT);
    };
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::about(ErrorCode::InvalidLimit, "limit")),
    }
}

/// `cursor` as given: opaque here, the store decides whether it fits the query.
pub fn cursor(query: &Query) -> Option<String> {
    query.get("cursor").map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> Query {
        Query::from(
            text.parse::<lambda_http::aws_lambda_events::query_map::QueryMap>()
                .unwrap(),
        )
    }

    #[test]
    fn given_no_limit_when_parsed_then_50() {
        assert_eq!(limit(&query("")).unwrap(), 50);
    }

    #[test]
    fn given_limits_out_of_range_or_not_numbers_when_parsed_then_invalid_limit() {
        for text in ["limit=0", "limit=501", "limit=-1", "limit=abc", "limit=1.5"] {
            let err = limit(&query(text)).unwrap_err();
            assert_eq!(err.code(), "invalid_limit", "{text}");
            assert_eq!(err.field(), Some("limit"));
        }
        assert_eq!(limit(&query("limit=500")).unwrap(), 500);
        assert_eq!(limit(&query("limit=1")).unwrap(), 1);
    }

    #[test]
    fn given_an_empty_value_when_read_then_it_counts_as_absent() {
        assert_eq!(limit(&query("limit=")).unwrap(), 50);
        assert!(cursor(&query("cursor=")).is_none());
    }

    #[test]
    fn given_a_bad_from_when_parsed_then_invalid_timestamp_names_from() {
        let err = time_range(&query("from=yesterday")).unwrap_err();
        assert_eq!(err.code(), "invalid_timestamp");
        assert_eq!(err.field(), Some("from"));
        assert!(err.message().contains("from"), "{}", err.message());
    }

    #[test]
    fn given_to_not_after_from_when_parsed_then_invalid_range() {
        let err =
            time_range(&query("from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z")).unwrap_err();
        assert_eq!(err.code(), "invalid_range");
    }

    #[test]
    fn given_a_bad_client_id_when_parsed_then_invalid_client_id() {
        let err = optional_client_id(&query("client_id=a%20b")).unwrap_err();
        assert_eq!(err.code(), "invalid_client_id");
        assert_eq!(err.field(), Some("client_id"));
    }

    #[test]
    fn given_no_client_id_when_required_then_missing_client_id() {
        let err = required_client_id(&query("")).unwrap_err();
        assert_eq!(err.code(), "missing_client_id");
    }
}
