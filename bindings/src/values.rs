//! Conversions shared by every domain: instants (ms since the epoch), local
//! dates (`YYYY-MM-DD`) and wall-clock times (`HH:MM`) in and out, and
//! [`RecordRef`], the id of a record that could not be opened.

use crate::error::{CairnError, Result};
use cairn_core as core;
use core::reminders as rem;

/// A record that could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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

pub(crate) fn date_in(field: &str, s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| CairnError::InvalidInput {
        message: format!("invalid {field}: expected YYYY-MM-DD"),
    })
}

pub(crate) fn ms_in(field: &str, ms: i64) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| CairnError::InvalidInput {
        message: format!("invalid {field}: out of range"),
    })
}

pub(crate) fn time_in(s: &str) -> Result<chrono::NaiveTime> {
    Ok(rem::parse_time(s)?)
}

pub(crate) fn time_out(t: chrono::NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

pub(crate) fn times_in(ts: &[String]) -> Result<Vec<chrono::NaiveTime>> {
    ts.iter().map(|t| time_in(t)).collect()
}

pub(crate) fn times_out(ts: &[chrono::NaiveTime]) -> Vec<String> {
    ts.iter().map(|t| time_out(*t)).collect()
}
