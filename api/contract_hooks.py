"""Schemathesis hooks for api/contract-test.sh (loaded through SCHEMATHESIS_HOOKS).

Checks added to schemathesis's own (each raises AssertionError on a violation):

* `only_simulated_server_errors` (replaces `not_a_server_error`): the one intended 5xx is
  `500 simulated_failure` to `POST /events` with one event carrying `simulateFailure: true`
  (documented; the local stack honours it). Any other 5xx fails.
* `error_body_on_errors`: every 4xx/5xx is JSON `{"error":{"code","message","field"?,
  "request_id"}}` with a JSON content type, whatever the document says.
* `valid_data_accepted` (replaces `positive_data_acceptance`): data the document calls valid
  is accepted, except where a rule lies beyond JSON Schema and the data really breaks it:
  `from` >= `to` (`invalid_range`), a cursor not minted for this query (`invalid_cursor`), an
  impossible calendar date or a sub-nanosecond epoch (`invalid_timestamp`), amount digit
  limits (`invalid_amount`), timestamps before 1970 or more than 24 h ahead. Each such 4xx
  is re-derived here from the request, so a wrong rejection still fails.

* `ingest_only_key_reads_nothing` (only in the run with an ingest-only key, when
  `CONTRACT_KEY_SCOPES=ingest`): every keyed operation but `POST /events` answers
  `403 forbidden_scope` (or `401` when the case dropped or mangled the key, `404`/`405` when no
  route matched): never data, never a 5xx; `valid_data_accepted` then checks `POST /events` only.

Undeclared methods (the coverage phase sends e.g. TRACE) never reach the functions: the
local emulator answers its own 404 (API Gateway its own 403), so the two body checks above
skip them; the route table, not the service, answers those.

Transport: nothing is resent. Every answer of the functions reaches the client whole
(scripts/devstack/respawn.py; `tests/integration/tests/large_answers.rs` proves it), so the
local emulator's own `500 {"type":"https://httpstatuses.com/500",...}` fails the run like any
other unintended 5xx, named as the emulator's. One limit of the emulator remains: a request
body that is not UTF-8 never reaches the functions locally (the emulator answers that same
500); the failures it draws are dropped and counted (`filter_failure`). Behind LocalStack's
API Gateway (`make deploy-local`), a `multipart/form-data` request without a boundary never
reaches the functions either (LocalStack answers an empty 400, or a text 500 "Error in
apigateway invocation: ..."; AWS passes the body on to the Lambda proxy): dropped and counted
the same way.

Python 3.11 before 3.11.8 can raise `SystemError: AST constructor recursion depth mismatch`
(CPython gh-106905) when Hypothesis parses a module to describe a filter lambda; a
description is cosmetic, so that error falls back to a plain one.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import sys
import time

import schemathesis
from hypothesis.internal import lambda_sources as _lambda_sources

_original_lambda_description = _lambda_sources.lambda_description


def _lambda_description_or_plain(f):
    try:
        return _original_lambda_description(f)
    except SystemError:
        return "lambda: <source not parsed>"


_lambda_sources.lambda_description = _lambda_description_or_plain

# ---------------------------------------------------------------------------------------
# The local emulator's own answers.

EMULATOR_500_TYPE = "https://httpstatuses.com/500"


def _is_emulator_500(status_code: int, content: bytes) -> bool:
    """The emulator's own 500 (`{"type":"https://httpstatuses.com/500",...}`, never the
    service's `{"error":...}`)."""
    if status_code != 500:
        return False
    try:
        body = json.loads(content)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("type") == EMULATOR_500_TYPE and "error" not in body


def _body_not_utf8(request) -> bool:
    body = request.body
    if body is None or isinstance(body, str):
        return False
    try:
        bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return True
    except TypeError:  # a stream: not something this API is sent
        return False
    return False


def _is_localstack_gateway_refusal(status_code: int, content: bytes, request) -> bool:
    """LocalStack's API Gateway's own answer to a multipart/form-data request it cannot parse
    (never the service's: every answer of the functions has a JSON error body)."""
    kind = (request.headers.get("Content-Type") or "").lower()
    if not kind.startswith("multipart/form-data"):
        return False
    return (status_code == 400 and not content) or (
        status_code == 500 and content.startswith(b"Error in apigateway invocation"))


@atexit.register
def _report_dropped() -> None:
    print(
        f"[contract] failures dropped for non-UTF-8 bodies the emulator cannot carry: {_uncarried['count']}",
        file=sys.stderr,
    )
    if _uncarried["gateway"]:
        print(f"[contract] failures dropped for multipart bodies LocalStack's API Gateway cannot parse: "
              f"{_uncarried['gateway']}", file=sys.stderr)


# A request body that is not UTF-8 never reaches the functions locally: the emulator answers
# its own 500 (the function itself answers `400 invalid_json` for such a body: invoke it with
# `isBase64Encoded: true` to see). The failures such a response draws are the emulator's;
# they are dropped here, counted, and listed as dropped in schemathesis's summary.
_uncarried = {"count": 0, "gateway": 0}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if _is_emulator_500(response.status_code, response.content) and _body_not_utf8(response.request):
        _uncarried["count"] += 1
        return False
    if _is_localstack_gateway_refusal(response.status_code, response.content, response.request):
        _uncarried["gateway"] += 1
        return False
    return True


# ---------------------------------------------------------------------------------------
# Helpers.

I64_MAX = 2**63 - 1
NANOS = 10**9


def _json(response):
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _undeclared_method(case, response) -> bool:
    """A request sent with a method the document does not declare for the path."""
    sent = (response.request.method or case.method).upper()
    return sent != case.operation.method.upper()


def _label(case) -> str:
    return f"{case.method.upper()} {case.path}"


def _is_positive(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def _number_text(value) -> str | None:
    """The JSON text a number or a string is sent as (what the service reads)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    return None


DATE_START = re.compile(r"^[0-9]{4}-")
NUMBER = re.compile(r"^(?P<sign>[+-]?)(?P<int>0|[1-9][0-9]*)(?:\.(?P<frac>[0-9]+))?(?:[eE](?P<exp>[+-]?[0-9]+))?\Z")
DATE_TIME = re.compile(
    r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[Tt ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]{1,9}))?)?"
    r"(?P<off>[Zz]|(?P<sign>[-+ ])(?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2}))?)?)?\Z"
)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (year 0 included)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _valid_date(y: int, m: int, d: int) -> bool:
    if not (1 <= m <= 12 and d >= 1):
        return False
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
    return d <= days


def _decimal_parts(text: str):
    """`(negative, mantissa, exponent)` of decimal text exactly (value = ±mantissa × 10^exponent,
    mantissa without trailing zeros, 0 for zero), whatever the exponent's size; None when the
    text is not in JSON number grammar (optional `+`)."""
    m = NUMBER.match(text)
    if not m:
        return None
    fraction = m["frac"] or ""
    mantissa = int(m["int"] + fraction)
    exponent = int(m["exp"] or 0) - len(fraction)
    if mantissa == 0:
        return (False, 0, 0)
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    return (m["sign"] == "-", mantissa, exponent)


def timestamp_nanos(value):
    """Nanoseconds since the epoch as the service reads `value` (may lie outside i64),
    or "syntax" / "precision" when the service must refuse it whatever the clock says."""
    if isinstance(value, str):
        m = DATE_TIME.match(value)
        if m:
            y, mo, d = int(m["y"]), int(m["mo"]), int(m["d"])
            if not _valid_date(y, mo, d):
                return "syntax"
            h, mi, s = int(m["h"] or 0), int(m["mi"] or 0), int(m["s"] or 0)
            if h > 23 or mi > 59 or s > 59:
                return "syntax"
            frac = int((m["f"] or "").ljust(9, "0") or 0)
            off = 0
            if m["sign"]:
                oh, om = int(m["oh"]), int(m["om"] or 0)
                if oh > 23 or om > 59:
                    return "syntax"
                off = (oh * 3600 + om * 60) * (-1 if m["sign"] == "-" else 1)
            secs = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off
            return secs * NANOS + frac
        if DATE_START.match(value):
            return "syntax"
    text = _number_text(value)
    parts = None if text is None else _decimal_parts(text)
    if parts is None:
        return "syntax"
    negative, mantissa, exponent = parts
    if mantissa == 0:
        return 0
    if negative:
        return -1
    magnitude = len(str(mantissa)) + exponent  # value < 10^magnitude
    millis = magnitude > 12 or (magnitude == 12 and not (mantissa == 1 and exponent == 11))
    unit_exponent = exponent + (6 if millis else 9)
    if unit_exponent < 0:
        return "precision"
    if magnitude + 9 > 40:
        return 10**40  # far past 2262 (kept small: the exponent may be in the billions)
    return mantissa * 10**unit_exponent


def amount_ok(value) -> bool:
    if value is None:
        return True
    text = _number_text(value)
    parts = None if text is None else _decimal_parts(text)
    if parts is None:
        return False
    _, mantissa, exponent = parts
    if mantissa == 0:
        return True
    int_digits = max(0, len(str(mantissa)) + exponent)
    frac_digits = max(0, -exponent)
    return int_digits <= 18 and frac_digits <= 9


def explained_event_rejection(event, code: str, received_ns: int) -> bool:
    """Whether the service is right to reject `event` (valid by the document) with `code`."""
    payload = event.get("payload") or {}
    if code == "invalid_amount":
        return not amount_ok(payload.get("amount"))
    ts = timestamp_nanos(payload.get("timestamp"))
    slack = 120 * NANOS  # the service's clock and ours differ by the request's flight
    latest = received_ns + 86400 * NANOS
    if code == "invalid_timestamp":
        return ts in ("syntax", "precision") or (isinstance(ts, int) and ts < 0)
    if code == "timestamp_in_future":
        return isinstance(ts, int) and ts > latest - slack
    return False


def _bound(query, name):
    value = query.get(name)
    if value in (None, ""):
        return None
    ts = timestamp_nanos(value)
    if isinstance(ts, int):
        return min(max(ts, 0), I64_MAX)
    return ts


HOUR_NS = 3_600_000_000_000
MAX_HOURLY_HOURS = 31 * 24


def explained_query_rejection(query, error, hourly=False) -> bool:
    code, field = error.get("code"), error.get("field")
    if code == "invalid_cursor":
        return query.get("cursor") not in (None, "")
    if code == "invalid_timestamp" and field in ("from", "to"):
        return _bound(query, field) in ("syntax", "precision")
    if code == "invalid_range":
        lo, hi = _bound(query, "from"), _bound(query, "to")
        if isinstance(lo, int) and isinstance(hi, int) and hi <= lo:
            return True
        # the hourly series: both bounds required, on whole hours, at most 31 days apart
        return hourly and (
            lo is None
            or hi is None
            or (isinstance(lo, int) and lo % HOUR_NS != 0)
            or (isinstance(hi, int) and hi % HOUR_NS != 0)
            or (isinstance(lo, int) and isinstance(hi, int) and (hi - lo) // HOUR_NS > MAX_HOURLY_HOURS)
        )
    return False


# ---------------------------------------------------------------------------------------
# Checks.


@schemathesis.check
def only_simulated_server_errors(ctx, response, case):
    if response.status_code < 500 or _undeclared_method(case, response):
        return None
    body = _json(response)
    simulated = (
        case.method.upper() == "POST"
        and case.path == "/events"
        and response.status_code == 500
        and isinstance(case.body, dict)
        and "events" not in case.body
        and case.body.get("simulateFailure") is True
        and isinstance(body, dict)
        and body.get("status") == "failed"
        and body.get("retryable") is True
        and (body.get("error") or {}).get("code") == "simulated_failure"
    )
    if not simulated:
        whose = ("the local emulator's own 500: it lost the function's answer"
                 if _is_emulator_500(response.status_code, response.content) else "Server error")
        raise AssertionError(
            f"{whose} {response.status_code} (only `500 simulated_failure` for an event "
            f"with simulateFailure: true is intended): {response.content[:300]!r}"
        )
    return None


@schemathesis.check
def error_body_on_errors(ctx, response, case):
    if response.status_code < 400 or _undeclared_method(case, response):
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    ok = (
        content_type.split(";")[0].strip() == "application/json"
        and isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("request_id"), str)
        and ("field" not in error or isinstance(error["field"], str))
    )
    if not ok:
        raise AssertionError(
            f"{response.status_code} without the error body "
            f'{{"error":{{"code","message","field"?,"request_id"}}}} '
            f"(content-type {content_type!r}): {response.content[:300]!r}"
        )
    return None


# The run with an ingest-only key (api/contract-test.sh, INGEST_KEY): only POST /events and
# the operations without a key may answer anything but a refusal.
INGEST_ONLY = os.environ.get("CONTRACT_KEY_SCOPES") == "ingest"
_OPEN_TO_INGEST = {"POST /events", "OPTIONS /events", "GET /", "GET /assets/{file}", "GET /openapi.json"}


@schemathesis.check
def ingest_only_key_reads_nothing(ctx, response, case):
    if not INGEST_ONLY or _label(case) in _OPEN_TO_INGEST or _undeclared_method(case, response):
        return None
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    refused = (response.status_code, code) in {
        (403, "forbidden_scope"), (401, "unauthorized"), (404, "not_found"), (405, "method_not_allowed"),
    }
    if not refused:
        raise AssertionError(
            f"An ingest-only key got {response.status_code} {code!r} from {_label(case)} "
            f"(want 403 forbidden_scope): {response.content[:300]!r}"
        )
    return None


@schemathesis.check
def valid_data_accepted(ctx, response, case):
    if not _is_positive(case) or response.status_code >= 500:
        return None
    body = _json(response)
    label = _label(case)
    if INGEST_ONLY and label != "POST /events":
        return None  # refused by scope: ingest_only_key_reads_nothing checks those
    received_ns = time.time_ns()
    if label == "POST /events":
        if not isinstance(case.body, dict):
            return None
        if "events" not in case.body:
            if response.status_code in (200, 201):
                return None
            error = (body or {}).get("error") or {}
            if response.status_code == 422 and explained_event_rejection(
                case.body, error.get("code"), received_ns
            ):
                return None
            raise AssertionError(
                f"A valid event was refused with {response.status_code}: {response.content[:400]!r}"
            )
        # A batch: items that are events by the document must not fail but for the same
        # reasons (items of any other shape may fail).
        if response.status_code != 200 or not isinstance(body, dict):
            raise AssertionError(f"A valid batch was refused: {response.content[:400]!r}")
        for result in body.get("results", []):
            item = case.body["events"][result["index"]]
            if result["status"] != "failed" or not _looks_like_event(item):
                continue
            code = (result.get("error") or {}).get("code")
            if code == "simulated_failure" and item.get("simulateFailure") is True:
                continue
            if explained_event_rejection(item, code, received_ns):
                continue
            raise AssertionError(
                f"Batch item {result['index']} (a valid event) failed: {json.dumps(result)[:400]}"
            )
        return None
    if label in (
        "POST /events/failed/{failed_id}/retry",
        "GET /events/failed/{failed_id}",
        "GET /assets/{file}",
    ):
        return None  # an id or asset name the service never gave is 404; 409 for rejected ones
    if response.status_code < 400:
        return None
    error = (body or {}).get("error") or {}
    if label == "POST /events/failed/retry":
        # The selection is a body with the query parameters' rules (`from` < `to`, cursors
        # minted for this selection, calendar dates); the development key owns every client.
        selection = case.body if isinstance(case.body, dict) else {}
        if response.status_code == 400 and explained_query_rejection(selection, error):
            return None
        raise AssertionError(
            f"Valid replay selection refused with {response.status_code}: {response.content[:400]!r}"
        )
    hourly = label == "GET /aggregates/hourly"
    if response.status_code == 400 and explained_query_rejection(case.query or {}, error, hourly):
        return None
    raise AssertionError(
        f"Valid query refused with {response.status_code}: {response.content[:400]!r}"
    )


_EVENT_KEYS_OK = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


def _looks_like_event(item) -> bool:
    """Close enough to the Event schema for the batch check: the schema-checked parts that
    matter for acceptance (an item drawn from the `anything` branch rarely passes)."""
    if not isinstance(item, dict) or "events" in item:
        return False
    client = item.get("client_id")
    payload = item.get("payload")
    if not isinstance(client, str) or not _EVENT_KEYS_OK.match(client):
        return False
    if not isinstance(payload, dict) or payload.get("timestamp") is None:
        return False
    event_id = item.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not _EVENT_KEYS_OK.match(event_id)):
        return False
    if item.get("simulateFailure") not in (None, True, False):
        return False
    for name, value in (("source", item.get("source")), ("metric", payload.get("metric"))):
        if value is not None and not (isinstance(value, str) and _label_ok(value)):
            return False
    amount = payload.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (int, float, str))):
        return False
    ts = payload.get("timestamp")
    if isinstance(ts, bool) or not isinstance(ts, (int, float, str)):
        return False
    return True


_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _label_ok(text: str) -> bool:
    trimmed = text.strip(_WS)
    return 1 <= len(trimmed) <= 128 and not any(
        ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in trimmed
    )

