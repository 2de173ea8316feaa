//! The supported calendar and the longest ranges, checked once at the
//! public API so that the FFI and the CLI get the same typed errors: an
//! instant outside the calendar or a range longer than a year and a bit is
//! `InvalidInput { field }`, never an allocation without limit or a panic in
//! date arithmetic further in.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};

/// The earliest supported instant: 1970-01-01T00:00:00Z, in ms.
pub const EARLIEST_MS: i64 = 0;
/// The latest supported instant: 2199-12-31T23:59:59.999Z, in ms.
pub const LATEST_MS: i64 = 7_258_118_399_999;
/// The longest range of occurrences or adherence asked for at once.
pub const MAX_RANGE_DAYS: i64 = 400;
const DAY_MS: i64 = 86_400_000;

/// `ms` if it lies in the supported calendar.
pub fn ms(field: &'static str, ms: i64) -> Result<i64> {
    if (EARLIEST_MS..=LATEST_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(Error::invalid(field, "must lie between 1970 and 2199"))
    }
}

/// An instant's milliseconds, if it lies in the supported calendar.
pub fn instant(field: &'static str, t: DateTime<Utc>) -> Result<i64> {
    ms(field, t.timestamp_millis())
}

/// `[from, to)` in ms: both in the calendar, `to` not before `from`, at
/// most [`MAX_RANGE_DAYS`] long.
pub fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(i64, i64)> {
    let (f, t) = (instant("from", from)?, instant("to", to)?);
    if t < f {
        return Err(Error::invalid("to", "must not be before from"));
    }
    if t - f > MAX_RANGE_DAYS * DAY_MS {
        return Err(Error::invalid(
            "range",
            format!("at most {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok((f, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_ends_where_the_constants_say() {
        let last = DateTime::from_timestamp_millis(LATEST_MS).unwrap();
        assert_eq!(last.to_rfc3339(), "2199-12-31T23:59:59.999+00:00");
        assert!(ms("at", LATEST_MS + 1).is_err());
        assert!(ms("at", -1).is_err());
        assert!(ms("at", i64::MIN).is_err() && ms("at", i64::MAX).is_err());
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap();
        assert!(range(at(0), at(MAX_RANGE_DAYS * DAY_MS)).is_ok());
        assert!(range(at(0), at(MAX_RANGE_DAYS * DAY_MS + 1)).is_err());
        assert!(range(at(10), at(5)).is_err());
    }
}
