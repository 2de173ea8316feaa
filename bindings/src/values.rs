//! Typed values at the edge, converted in this one place:
//!
//! | here | Kotlin | Swift |
//! |---|---|---|
//! | [`Timestamp`] (microseconds since the epoch) | `java.time.Instant` | `Date` |
//! | [`LocalDay`] (days since 1970-01-01) | `java.time.LocalDate` | `DateComponents` (year, month, day) |
//! | [`WallTime`] (seconds since midnight) | `java.time.LocalTime` | `DateComponents` (hour, minute) |
//! | [`ZoneName`] (IANA name) | `java.time.ZoneId` | `TimeZone` |
//! | [`Weekday`] (ISO 1-7) | `java.time.DayOfWeek` | `Weekday` |
//! | [`EntryId`], [`TrackerId`], [`ReminderId`], [`EventId`], [`FlagId`] | data classes | structs |
//!
//! Instants are rounded to whole milliseconds here, in Rust, so that a value
//! read back and written again never drifts. They travel as microseconds,
//! not as uniffi's built-in timestamp: its sign-and-magnitude encoding loses
//! the sign of any instant in the last second before 1970 (seconds = -0). The mapping to platform types
//! is in `bindings/uniffi.toml`; the platform halves of the id types and the
//! `DateComponents` helpers are in `android/.../CairnValues.kt` and
//! `ios/Sources/Cairn/CairnValues.swift`.

use crate::error::{CairnError, Result};
use cairn_core as core;

/// A record that could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct RecordRef {
    /// Its table.
    pub table: String,
    /// Its id.
    pub id: String,
}

impl From<core::RecordRef> for RecordRef {
    fn from(r: core::RecordRef) -> Self {
        RecordRef {
            table: r.table,
            id: r.id,
        }
    }
}

/// An instant: Kotlin `Instant`, Swift `Date`. Microseconds since the
/// epoch on the wire; every call rounds it to whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp(pub i64);
uniffi::custom_type!(Timestamp, i64, {
    lower: |t| t.0,
    try_lift: |v| Ok(Timestamp(v)),
});

/// A local calendar day: Kotlin `LocalDate`, Swift `DateComponents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalDay(pub i64);
uniffi::custom_type!(LocalDay, i64, {
    lower: |d| d.0,
    try_lift: |v| Ok(LocalDay(v)),
});

/// A wall-clock time of day: Kotlin `LocalTime`, Swift `DateComponents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WallTime(pub i32);
uniffi::custom_type!(WallTime, i32, {
    lower: |t| t.0,
    try_lift: |v| Ok(WallTime(v)),
});

/// An IANA zone: Kotlin `ZoneId`, Swift `TimeZone`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZoneName(pub String);
uniffi::custom_type!(ZoneName, String, {
    lower: |z| z.0,
    try_lift: |v| Ok(ZoneName(v)),
});

/// A day of the week: Kotlin `DayOfWeek`, Swift `Weekday`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weekday(pub i32);
uniffi::custom_type!(Weekday, i32, {
    lower: |w| w.0,
    try_lift: |v| Ok(Weekday(v)),
});

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(pub String);
        uniffi::custom_type!($name, String, {
            lower: |id| id.0,
            try_lift: |v| Ok($name(v)),
        });
    };
}

id_type!(
    /// An entry's id.
    EntryId
);
id_type!(
    /// A tracker's id (a word for built-ins, 32 hex characters for custom ones).
    TrackerId
);
id_type!(
    /// A reminder rule's id.
    ReminderId
);
id_type!(
    /// A recorded event's id.
    EventId
);
id_type!(
    /// A risk flag's id.
    FlagId
);

// --- in ------------------------------------------------------------------

/// `snake_case` (the core's field names) as the platforms spell them.
pub(crate) fn camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut up = false;
    for c in field.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// An instant as whole milliseconds since the epoch (half a millisecond
/// rounds away from the epoch). Always in range: the core checks its own
/// bounds and names the field.
pub(crate) fn ms_in(t: Timestamp) -> i64 {
    let us = i128::from(t.0);
    let ms = if us >= 0 {
        (us + 500) / 1000
    } else {
        -((-us + 500) / 1000)
    };
    ms as i64
}

/// The same, as a chrono instant.
pub(crate) fn instant_in(field: &str, t: Timestamp) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms_in(t))
        .ok_or_else(|| CairnError::invalid(field, "out of range"))
}

pub(crate) fn day_in(field: &str, d: LocalDay) -> Result<chrono::NaiveDate> {
    i32::try_from(d.0)
        .ok()
        .and_then(|n| n.checked_add(719_163))
        .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
        .ok_or_else(|| CairnError::invalid(field, "out of range"))
}

pub(crate) fn time_in(field: &str, t: WallTime) -> Result<chrono::NaiveTime> {
    if !(0..86_400).contains(&t.0) {
        return Err(CairnError::invalid(field, "must be a time of day"));
    }
    if t.0 % 60 != 0 {
        return Err(CairnError::invalid(field, "must be whole minutes"));
    }
    chrono::NaiveTime::from_num_seconds_from_midnight_opt(t.0 as u32, 0)
        .ok_or_else(|| CairnError::invalid(field, "must be a time of day"))
}

pub(crate) fn times_in(field: &str, ts: &[WallTime]) -> Result<Vec<chrono::NaiveTime>> {
    ts.iter().map(|t| time_in(field, *t)).collect()
}

pub(crate) fn weekday_in(field: &str, w: Weekday) -> Result<chrono::Weekday> {
    u8::try_from(w.0 - 1)
        .ok()
        .filter(|n| *n < 7)
        .and_then(|n| chrono::Weekday::try_from(n).ok())
        .ok_or_else(|| CairnError::invalid(field, "must be a day of the week"))
}

/// A count or limit given as a signed number, for a core field that is
/// unsigned: negative is refused with the field's name.
pub(crate) fn count_in<T: TryFrom<i64>>(field: &str, n: i64) -> Result<T> {
    T::try_from(n).map_err(|_| CairnError::invalid(field, "out of range"))
}

// --- out -----------------------------------------------------------------

pub(crate) fn instant_out(ms: i64) -> Timestamp {
    Timestamp(ms.saturating_mul(1000))
}

pub(crate) fn day_out(d: chrono::NaiveDate) -> LocalDay {
    use chrono::Datelike;
    LocalDay(i64::from(d.num_days_from_ce()) - 719_163)
}

pub(crate) fn time_out(t: chrono::NaiveTime) -> WallTime {
    use chrono::Timelike;
    WallTime(t.num_seconds_from_midnight() as i32)
}

pub(crate) fn times_out(ts: &[chrono::NaiveTime]) -> Vec<WallTime> {
    ts.iter().map(|t| time_out(*t)).collect()
}

pub(crate) fn weekday_out(w: chrono::Weekday) -> Weekday {
    Weekday(w.number_from_monday() as i32)
}

/// A core count as the platforms' signed numbers (saturating; the core's
/// counts are far below the limit).
pub(crate) fn count_out<T: TryInto<i64>>(n: T) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_to_the_nearest_millisecond_both_sides_of_1970() {
        let ms = |us: i64| ms_in(Timestamp(us));
        assert_eq!(ms(1_000_499), 1_000);
        assert_eq!(ms(1_000_500), 1_001);
        assert_eq!(ms(-1_000_499), -1_000);
        assert_eq!(ms(-1_000_500), -1_001);
        // The last second before 1970 keeps its sign.
        assert_eq!(ms(-500_000), -500);
        assert_eq!(ms(-499), 0);
        assert_eq!(ms(i64::MIN), i64::MIN / 1000 - 1);
        for ms in [-86_400_000_i64, -1, 0, 1, 7_258_118_399_999] {
            assert_eq!(ms_in(instant_out(ms)), ms);
        }
        assert!(instant_in("at", Timestamp(i64::MAX)).is_err());
    }

    #[test]
    fn days_times_and_weekdays_round_trip_and_refuse_what_is_not_one() {
        for s in ["1969-12-31", "1970-01-01", "2024-02-29", "2199-12-31"] {
            let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
            assert_eq!(day_in("day", day_out(d)).unwrap(), d);
        }
        assert_eq!(
            day_out(chrono::NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()).0,
            1
        );
        assert!(day_in("day", LocalDay(i64::MAX)).is_err());
        assert_eq!(
            time_in("t", WallTime(7 * 3600 + 30 * 60))
                .unwrap()
                .to_string(),
            "07:30:00"
        );
        assert!(matches!(
            time_in("t", WallTime(86_400)),
            Err(CairnError::InvalidInput { .. })
        ));
        assert!(matches!(
            time_in("t", WallTime(61)),
            Err(CairnError::InvalidInput { .. })
        ));
        assert!(time_in("t", WallTime(-60)).is_err());
        for n in 1..=7 {
            assert_eq!(weekday_out(weekday_in("d", Weekday(n)).unwrap()).0, n);
        }
        assert!(weekday_in("d", Weekday(0)).is_err());
        assert!(weekday_in("d", Weekday(8)).is_err());
        assert_eq!(camel("horizon_days"), "horizonDays");
        assert_eq!(camel("at"), "at");
    }
}
