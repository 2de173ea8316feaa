//! The time zone database: [`ZoneDatabase`].

use crate::error::{CairnError, Result};
use crate::values::{Timestamp, ZoneName, ms_in};
use cairn_core as core;
use std::sync::Arc;

/// The IANA time zone database Cairn reads: the platform's own, so the
/// library stays small and agrees with the phone's clock.
#[derive(uniffi::Object)]
pub struct ZoneDatabase {
    db: Arc<core::ZoneDb>,
}

#[uniffi::export]
impl ZoneDatabase {
    /// The platform's database: Android's `tzdata` where present, else
    /// `TZDIR`, else `/usr/share/zoneinfo` (Apple platforms, Linux).
    #[uniffi::constructor]
    pub fn system() -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            db: Arc::new(core::ZoneDb::system()),
        }))
    }

    /// TZif files in a directory tree (`Europe/Paris` is `dir/Europe/Paris`).
    /// `InvalidInput` (field `path`) if `path` is not a folder.
    #[uniffi::constructor]
    pub fn directory(path: String) -> Result<Arc<Self>> {
        if !std::path::Path::new(&path).is_dir() {
            return Err(CairnError::invalid("path", "not a folder"));
        }
        Ok(Arc::new(Self {
            db: Arc::new(core::ZoneDb::directory(path)),
        }))
    }

    /// Android's concatenated `tzdata` file at `path`. `Io` if it is
    /// missing or not in Android's format.
    #[uniffi::constructor]
    pub fn android_tzdata(path: String) -> Result<Arc<Self>> {
        crate::guard(|| {
            Ok(Arc::new(Self {
                db: Arc::new(core::ZoneDb::android_tzdata_checked(path)?),
            }))
        })
    }

    /// An empty database (UTC only) to fill with `addTzif`.
    #[uniffi::constructor]
    pub fn in_memory() -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            db: Arc::new(core::ZoneDb::in_memory()),
        }))
    }

    /// Adds a zone from TZif bytes (iOS: `NSTimeZone(name:)?.data`; CairnKit's
    /// `addFoundationZone` does it).
    pub fn add_tzif(&self, name: String, tzif: Vec<u8>) -> Result<()> {
        crate::guard(|| Ok(self.db.add_tzif(&name, &tzif)?))
    }

    /// Whether the database has `zone`.
    pub fn contains(&self, zone: ZoneName) -> bool {
        self.db.zone(&zone.0).is_ok()
    }

    /// The UTC offset, in seconds, in force in `zone` at `at` (any instant
    /// the platform can hold; before the zone's first rule, its first
    /// offset).
    pub fn utc_offset_seconds(&self, zone: ZoneName, at: Timestamp) -> Result<i32> {
        let ms = ms_in(at);
        crate::guard(|| {
            Ok(self
                .db
                .zone(&zone.0)
                .map_err(CairnError::zone("zone"))?
                .offset_at(ms))
        })
    }
}

/// The store options for a journal reading `zones` (none: the system
/// database).
pub(crate) fn store_options(zones: Option<Arc<ZoneDatabase>>) -> core::StoreOptions {
    let mut o = core::StoreOptions::default();
    if let Some(z) = zones {
        o.zones = z.db.clone();
    }
    o
}
