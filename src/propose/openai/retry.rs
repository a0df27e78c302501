//! Retry arithmetic for the chat client: which outcome is worth another try, how long to wait
//! (jittered exponential backoff or the server's `Retry-After`), and the record each retry
//! leaves for the bundle. Pure: the client owns the clock and the sleeping.

use std::time::Duration;

use serde::Serialize;

/// Why a request was sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryKind {
    /// A retryable HTTP status (408, 409, 429, 5xx).
    Status,
    /// The connection could not be made or broke before a reply arrived.
    Connect,
    /// No complete reply within the request timeout.
    Timeout,
    /// The server rejected an optional parameter (e.g. `response_format`); sent again without it.
    Fallback,
}

/// One retry, as stored in the bundle. Retries are not proposer attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetryRecord {
    pub kind: RetryKind,
    /// The HTTP status that caused the retry, if there was a reply.
    pub status: Option<u16>,
    /// Human-readable cause, e.g. `http 429: Rate limit reached` or `connection refused`.
    pub reason: String,
    /// How long the client waited before sending again.
    pub wait_ms: u64,
    /// The server's own `Retry-After` (before capping), when it sent one that parsed.
    pub retry_after_ms: Option<u64>,
    /// Time since the first send when the failed exchange ended.
    pub at_ms: u64,
}

/// True for statuses that are worth sending again unchanged: request timeout, conflict, rate
/// limit and server errors.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || (500..600).contains(&status)
}

/// The wait before retry number `retry_index` (0 for the first retry): the step
/// `min(cap, base * 2^retry_index)` with "equal jitter", i.e. uniformly in `[step/2, step]`.
///
/// `unit` is a random number in `[0, 1]`; passing it in keeps this function pure and testable.
pub fn backoff_delay(retry_index: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let factor = 2u32.saturating_pow(retry_index.min(31));
    let step = base.saturating_mul(factor).min(cap);
    let half = step / 2;
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.0
    };
    half + half.mul_f64(unit)
}

/// Parses a `Retry-After` value: delta seconds (`"120"`, leniently `"1.5"`) or an HTTP date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`), measured against `now`. A date in the past means "now".
/// Anything else is `None`, and the caller falls back to its own backoff.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = value.parse().ok()?;
        // Durations beyond a day are nonsense for a retry and would overflow nothing useful.
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let at = PARSER.parse_timestamp(value).ok()?;
    let delta = at.duration_since(now);
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
}

/// Parses OpenAI/Azure's `retry-after-ms` header (milliseconds, possibly fractional).
pub fn parse_retry_after_ms(value: &str) -> Option<Duration> {
    let ms: f64 = value.trim().parse().ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2015-10-21T07:27:00Z".parse().unwrap()
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("1", now()), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("1.5", now()),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_http_date() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::from_secs(60))
        );
        // A date already past means "retry now", not an error.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_garbage() {
        for bad in [
            "",
            "soon",
            "-1",
            "1.2.3",
            "Wed, 99 Oct 2015 07:28:00 GMT",
            "1s",
        ] {
            assert_eq!(parse_retry_after(bad, now()), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_ms_header() {
        assert_eq!(
            parse_retry_after_ms("250"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after_ms("-5"), None);
        assert_eq!(parse_retry_after_ms("x"), None);
    }

    #[test]
    fn backoff_stays_within_half_step_and_step() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(30);
        for i in 0..40 {
            let step = base.saturating_mul(2u32.saturating_pow(i.min(31))).min(cap);
            for unit in [0.0, 0.25, 0.5, 0.99, 1.0] {
                let d = backoff_delay(i, base, cap, unit);
                assert!(d >= step / 2 && d <= step, "i={i} unit={unit} d={d:?}");
            }
        }
        assert_eq!(backoff_delay(0, base, cap, 0.0), Duration::from_millis(250));
        assert_eq!(backoff_delay(0, base, cap, 1.0), Duration::from_millis(500));
        assert_eq!(backoff_delay(3, base, cap, 1.0), Duration::from_secs(4));
        assert_eq!(backoff_delay(20, base, cap, 1.0), cap);
    }

    #[test]
    fn backoff_grows_then_caps() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        let upper: Vec<_> = (0..8).map(|i| backoff_delay(i, base, cap, 1.0)).collect();
        assert!(upper.windows(2).all(|w| w[0] <= w[1]), "{upper:?}");
        assert_eq!(upper[7], cap);
    }

    #[test]
    fn backoff_tolerates_bad_random_input() {
        let d = backoff_delay(0, Duration::from_secs(1), Duration::from_secs(1), f64::NAN);
        assert_eq!(d, Duration::from_millis(500));
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 409, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 413, 422] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }
}
