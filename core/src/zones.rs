//! IANA time zones, read from the platform's own database at run time.
//!
//! Compiling the tz database into the library would add about 1.9 MB to the
//! phone build, and the phone already keeps a current copy: Apple platforms
//! and Linux as TZif files under `/usr/share/zoneinfo`, Android as one
//! concatenated `tzdata` file. A [`ZoneDb`] reads either, or TZif bytes the
//! shell hands over (iOS `TimeZone.data`), and caches what it parsed.
//! TZif parsing (including the POSIX rule for dates past the last
//! transition) is done by the `tz-rs` crate.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where Android keeps its tz database, newest first (bionic's order).
pub const ANDROID_TZDATA_PATHS: &[&str] = &[
    "/data/misc/zoneinfo/current/tzdata",
    "/apex/com.android.tzdata/etc/tz/tzdata",
    "/apex/com.android.runtime/etc/tz/tzdata",
    "/system/usr/share/zoneinfo/tzdata",
];

/// A parsed IANA zone.
#[derive(Debug)]
pub struct Zone {
    name: String,
    tz: tz::TimeZone,
}

impl Zone {
    /// The zone's IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Offset from UTC, in seconds, in force at `unix_ms`.
    pub fn offset_at(&self, unix_ms: i64) -> i32 {
        match self.tz.find_local_time_type(unix_ms.div_euclid(1000)) {
            Ok(t) => t.ut_offset(),
            // Past the last transition of a file without a rule for later
            // dates: the last local time type stays in force.
            Err(_) => {
                let tz = self.tz.as_ref();
                let types = tz.local_time_types();
                tz.transitions()
                    .last()
                    .and_then(|t| types.get(t.local_time_type_index()))
                    .or(types.first())
                    .map_or(0, |t| t.ut_offset())
            }
        }
    }

    /// The zone's rules as tz-rs holds them (for local-to-UTC conversion).
    pub fn rules(&self) -> &tz::TimeZone {
        &self.tz
    }
}

enum Source {
    Directory(PathBuf),
    Android { path: PathBuf },
    Memory,
}

/// A time zone database with a cache of parsed zones. Cheap to share.
pub struct ZoneDb {
    source: Source,
    cache: Mutex<HashMap<String, Arc<Zone>>>,
}

impl std::fmt::Debug for ZoneDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ZoneDb")
    }
}

impl ZoneDb {
    /// The platform's database: Android's `tzdata` where present, else the
    /// `TZDIR` environment variable, else `/usr/share/zoneinfo`.
    pub fn system() -> Self {
        for p in ANDROID_TZDATA_PATHS {
            if Path::new(p).is_file() {
                return Self::android_tzdata(p);
            }
        }
        let dir = std::env::var_os("TZDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/share/zoneinfo"));
        Self::directory(dir)
    }

    /// TZif files in a directory tree (`Europe/Paris` is `DIR/Europe/Paris`).
    pub fn directory(dir: impl Into<PathBuf>) -> Self {
        Self::with(Source::Directory(dir.into()))
    }

    /// Android's concatenated `tzdata` file.
    pub fn android_tzdata(path: impl Into<PathBuf>) -> Self {
        Self::with(Source::Android { path: path.into() })
    }

    /// Android's `tzdata` file, checked now: `ZoneDatabase` if it is missing
    /// or not in Android's format.
    pub fn android_tzdata_checked(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        // Looking up UTC reads and checks the header and index.
        match android_lookup(&path, "UTC") {
            Ok(_) | Err(Error::UnknownZone) => Ok(Self::android_tzdata(path)),
            Err(e) => Err(e),
        }
    }

    /// An empty database that knows only zones added with [`ZoneDb::add_tzif`].
    pub fn in_memory() -> Self {
        Self::with(Source::Memory)
    }

    fn with(source: Source) -> Self {
        let db = Self {
            source,
            cache: Mutex::new(HashMap::new()),
        };
        // UTC is always known, whatever the platform ships, under each of
        // the names the IANA database links to it: Foundation calls it
        // "GMT", java.time "UTC" or "Z" (not a zone), Linux "Etc/UTC".
        {
            let mut cache = db.cache.lock().expect("fresh mutex");
            for name in UTC_NAMES {
                cache.insert(
                    (*name).into(),
                    Arc::new(Zone {
                        name: (*name).into(),
                        tz: tz::TimeZone::utc(),
                    }),
                );
            }
        }
        db
    }

    /// Adds (or replaces) a zone from TZif bytes, as iOS's `TimeZone.data`
    /// returns them.
    pub fn add_tzif(&self, name: &str, tzif: &[u8]) -> Result<()> {
        check_name(name)?;
        let tz = parse_tzif(tzif)
            .ok_or_else(|| Error::ZoneDatabase("TZif data did not parse".into()))?;
        self.lock().insert(
            name.to_owned(),
            Arc::new(Zone {
                name: name.to_owned(),
                tz,
            }),
        );
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Zone>>> {
        // A panic while holding the lock leaves a usable cache.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Looks a zone up by IANA name. `UnknownZone` if the database lacks it.
    pub fn zone(&self, name: &str) -> Result<Arc<Zone>> {
        if let Some(z) = self.lock().get(name) {
            return Ok(z.clone());
        }
        check_name(name)?;
        let bytes = match &self.source {
            Source::Directory(dir) => match std::fs::read(dir.join(name)) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::UnknownZone);
                }
                // A directory (e.g. "America") is not a zone.
                Err(_) if dir.join(name).is_dir() => return Err(Error::UnknownZone),
                Err(e) => return Err(Error::ZoneDatabase(e.kind().to_string())),
            },
            Source::Android { path } => android_lookup(path, name)?,
            Source::Memory => return Err(Error::UnknownZone),
        };
        let tz = parse_tzif(&bytes).ok_or(Error::UnknownZone)?;
        let zone = Arc::new(Zone {
            name: name.to_owned(),
            tz,
        });
        self.lock().insert(name.to_owned(), zone.clone());
        Ok(zone)
    }
}

/// The IANA names of UTC (the zone and its links in the `etcetera` and
/// `backward` files), known to every database.
const UTC_NAMES: &[&str] = &[
    "UTC",
    "Etc/UTC",
    "Etc/UCT",
    "UCT",
    "Etc/Universal",
    "Universal",
    "Etc/Zulu",
    "Zulu",
    "GMT",
    "Etc/GMT",
    "Etc/GMT0",
    "Etc/GMT+0",
    "Etc/GMT-0",
    "GMT0",
    "GMT+0",
    "GMT-0",
    "Etc/Greenwich",
    "Greenwich",
];

/// IANA names are ASCII letters, digits and `/_-+`, with no empty, `.` or
/// `..` component. Anything else is refused before touching the file system.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b))
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && name.as_bytes()[0].is_ascii_alphabetic();
    if ok { Ok(()) } else { Err(Error::UnknownZone) }
}

/// Finds one zone in Android's concatenated file:
/// header `tzdata` + 6-byte version + NUL, then big-endian u32 offsets of the
/// index, the data and the final section; the index is 52-byte entries of a
/// 40-byte NUL-padded name, offset and length (relative to the data), and
/// one unused u32.
fn android_lookup(path: &Path, name: &str) -> Result<Vec<u8>> {
    let file = std::fs::read(path).map_err(|e| Error::ZoneDatabase(e.kind().to_string()))?;
    let bad = || Error::ZoneDatabase("unrecognised Android tzdata format".into());
    if file.len() < 24 || &file[..6] != b"tzdata" || file[11] != 0 {
        return Err(bad());
    }
    let be = |at: usize| -> Result<usize> {
        let b: [u8; 4] = file
            .get(at..at + 4)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?;
        Ok(u32::from_be_bytes(b) as usize)
    };
    let (index, data, fin) = (be(12)?, be(16)?, be(20)?);
    if index > data || data > fin || fin > file.len() || (data - index) % 52 != 0 {
        return Err(bad());
    }
    for entry in file[index..data].chunks_exact(52) {
        let raw = &entry[..40];
        let n = raw.iter().position(|&b| b == 0).unwrap_or(40);
        if &raw[..n] == name.as_bytes() {
            let off = u32::from_be_bytes(entry[40..44].try_into().map_err(|_| bad())?) as usize;
            let len = u32::from_be_bytes(entry[44..48].try_into().map_err(|_| bad())?) as usize;
            let start = data.checked_add(off).ok_or_else(bad)?;
            let end = start.checked_add(len).ok_or_else(bad)?;
            return file.get(start..end).map(<[u8]>::to_vec).ok_or_else(bad);
        }
    }
    Err(Error::UnknownZone)
}

/// Parses TZif data with tz-rs, after checking that the data blocks its
/// headers announce fit in the bytes given. tz-rs multiplies the header's
/// counts in `usize`: on 32-bit phones a forged count overflows (a panic in
/// debug builds, a wrong slice in release). A genuine file's blocks always
/// fit, so the check, done in `u64`, refuses only damaged data.
fn parse_tzif(data: &[u8]) -> Option<tz::TimeZone> {
    // RFC 8536: "TZif", version, 15 reserved bytes, then six big-endian
    // u32 counts: isut, isstd, leap, time, type, char. Version 2 and later
    // repeat header and blocks with 8-byte times.
    fn block_end(data: &[u8], at: usize, time_size: u64) -> Option<usize> {
        let header = data.get(at..at.checked_add(44)?)?;
        if &header[..4] != b"TZif" {
            return None;
        }
        let count = |i: usize| {
            let b: [u8; 4] = header[20 + 4 * i..24 + 4 * i].try_into().ok()?;
            Some(u64::from(u32::from_be_bytes(b)))
        };
        let (isut, isstd, leap) = (count(0)?, count(1)?, count(2)?);
        let (time, types, chars) = (count(3)?, count(4)?, count(5)?);
        let blocks =
            time * (time_size + 1) + types * 6 + chars + leap * (time_size + 4) + isstd + isut;
        let end = at as u64 + 44 + blocks;
        usize::try_from(end).ok().filter(|&e| e <= data.len())
    }
    let end = block_end(data, 0, 4)?;
    if data.get(4).is_some_and(|&v| v >= b'2') {
        block_end(data, end, 8)?;
    }
    tz::TimeZone::from_tz_data(data).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tzif_counts_that_overflow_32_bit_arithmetic_are_refused_not_a_panic() {
        // A version-1 header announcing 2^32 - 1 transitions: on a 32-bit
        // phone, tz-rs's `count * 4` would overflow.
        let mut tzif = b"TZif\0".to_vec();
        tzif.extend_from_slice(&[0; 15]);
        for count in [0u32, 0, 0, u32::MAX, 1, 4] {
            tzif.extend_from_slice(&count.to_be_bytes());
        }
        tzif.extend_from_slice(&[0; 64]);
        let db = ZoneDb::in_memory();
        assert!(matches!(
            db.add_tzif("Test/Forged", &tzif),
            Err(Error::ZoneDatabase(_))
        ));
        // A genuine file still parses.
        let utc = std::fs::read("/usr/share/zoneinfo/UTC").unwrap();
        db.add_tzif("Test/Utc", &utc).unwrap();
    }

    use super::*;

    fn host() -> ZoneDb {
        ZoneDb::directory("/usr/share/zoneinfo")
    }

    #[test]
    fn offsets_follow_daylight_saving() {
        let ny = host().zone("America/New_York").unwrap();
        // 2026-01-15T12:00Z: EST; 2026-07-15T12:00Z: EDT
        assert_eq!(ny.offset_at(1_768_478_400_000), -5 * 3600);
        assert_eq!(ny.offset_at(1_784_116_800_000), -4 * 3600);
        // Far past the last explicit transition the POSIX rule applies.
        assert_eq!(
            ny.offset_at(4_102_444_800_000 + 200 * 86_400_000),
            -4 * 3600
        );
    }

    #[test]
    fn bad_names_are_unknown_zones_without_touching_files() {
        let db = host();
        for n in [
            "",
            "../etc/passwd",
            "/etc/passwd",
            "Europe/../UTC",
            "Mars/Olympus",
            "America",
            "Europe//Paris",
            "Europe/Paris\0",
        ] {
            assert!(matches!(db.zone(n), Err(Error::UnknownZone)), "{n:?}");
        }
    }

    #[test]
    fn android_concatenated_file_is_read() {
        // Build a small tzdata file in Android's layout from host zones.
        let names = ["America/New_York", "Asia/Kolkata", "Europe/London"];
        let blobs: Vec<Vec<u8>> = names
            .iter()
            .map(|n| std::fs::read(format!("/usr/share/zoneinfo/{n}")).unwrap())
            .collect();
        let index_off = 24usize;
        let data_off = index_off + 52 * names.len();
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (n, b) in names.iter().zip(&blobs) {
            let mut name = [0u8; 40];
            name[..n.len()].copy_from_slice(n.as_bytes());
            index.extend_from_slice(&name);
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&(b.len() as u32).to_be_bytes());
            index.extend_from_slice(&0u32.to_be_bytes());
            data.extend_from_slice(b);
        }
        let mut file = b"tzdata2026b\0".to_vec();
        file.extend_from_slice(&(index_off as u32).to_be_bytes());
        file.extend_from_slice(&(data_off as u32).to_be_bytes());
        file.extend_from_slice(&((data_off + data.len()) as u32).to_be_bytes());
        file.extend(index);
        file.extend(data);
        let dir = std::env::temp_dir().join(format!("cairn-tzdata-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tzdata");
        std::fs::write(&path, &file).unwrap();
        let db = ZoneDb::android_tzdata(&path);
        assert_eq!(db.zone("Asia/Kolkata").unwrap().offset_at(0), 19_800);
        assert!(matches!(db.zone("Europe/Paris"), Err(Error::UnknownZone)));
        std::fs::write(&path, b"not a tzdata file at all.....").unwrap();
        let db = ZoneDb::android_tzdata(&path);
        assert!(matches!(
            db.zone("Asia/Kolkata"),
            Err(Error::ZoneDatabase(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn tzif_bytes_from_the_shell_are_accepted() {
        let db = ZoneDb::in_memory();
        assert!(matches!(db.zone("Asia/Tokyo"), Err(Error::UnknownZone)));
        let bytes = std::fs::read("/usr/share/zoneinfo/Asia/Tokyo").unwrap();
        db.add_tzif("Asia/Tokyo", &bytes).unwrap();
        assert_eq!(db.zone("Asia/Tokyo").unwrap().offset_at(0), 9 * 3600);
        assert!(db.add_tzif("Asia/Tokyo", b"garbage").is_err());
        assert_eq!(db.zone("UTC").unwrap().offset_at(0), 0);
        // Every name of UTC, whatever the platform calls it, and under that name.
        for name in ["GMT", "Etc/UTC", "Zulu", "Etc/GMT-0", "Greenwich"] {
            let z = db.zone(name).unwrap();
            assert_eq!((z.name(), z.offset_at(1_700_000_000_000)), (name, 0));
        }
    }
}
