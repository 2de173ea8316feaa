//! `cairn demo`: one simulated patient, end to end through the real store.

use crate::{Failure, STORE_FILE, keys, output};
use cairn_core::insights::{TrackerSummary, summarize, tags_on_low_days};
use cairn_core::{
    Entry, EntryQuery, Error, Key, NewEntry, NewTracker, Store, StoreOptions, Tag, TagGroup,
    TrackerKind, Value, ZoneDb,
};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use std::path::{Path, PathBuf};
use std::time::Instant;

const HOME_ZONE: &str = "America/Denver";
const TRIP_ZONE: &str = "Europe/Lisbon";
/// Demo journal lines: generic, written for the simulation.
const JOURNAL_LINES: &[&str] = &[
    "Hard morning, felt better after getting outside.",
    "Talked with a friend tonight. Helped more than expected.",
    "Work was a lot today. Used the breathing exercise twice.",
    "Slept badly and everything felt heavier.",
    "A calm day. Cooked dinner for the first time in a while.",
    "Therapy session today; writing down the plan for the week.",
];

/// SplitMix64: small, seeded, reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn normal(&mut self) -> f64 {
        // Irwin-Hall approximation: plenty for a simulation.
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % u64::from(hi - lo + 1)) as u32
    }
}

fn clamp_round(x: f64, lo: f64, hi: f64) -> f64 {
    x.round().clamp(lo, hi)
}

/// A local wall-clock time in `zone` as a UTC instant (demo times avoid
/// the small hours, so gaps and overlaps do not arise).
fn local(
    zones: &ZoneDb,
    zone: &str,
    day: NaiveDate,
    h: u32,
    m: u32,
) -> Result<DateTime<Utc>, Failure> {
    let time =
        NaiveTime::from_hms_opt(h, m, 0).ok_or_else(|| Failure::other("demo time out of range"))?;
    let zone = zones.zone(zone)?;
    let (utc_s, _) = cairn_core::reminders::local_to_utc(&zone, day, time);
    DateTime::from_timestamp(utc_s, 0).ok_or_else(|| Failure::other("demo date out of range"))
}

pub fn run(
    data: Option<&Path>,
    key_file: Option<&Path>,
    days: u32,
    seed: u64,
) -> Result<(), Failure> {
    let started = Instant::now();
    let (dir, temporary) = match data {
        Some(d) => (d.to_path_buf(), false),
        None => {
            let id = cairn_core::crypto::random_id()?;
            (
                std::env::temp_dir().join(format!("cairn-demo-{}", &id[..12])),
                true,
            )
        }
    };
    let path = dir.join(STORE_FILE);
    if path.exists() {
        return Err(Failure::usage(
            "a store already exists there; give the demo an empty --data folder",
        ));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::other(format!("cannot create the folder: {}", e.kind())))?;
    let (key, key_note) = demo_key(&dir, key_file, temporary)?;
    let zones = std::sync::Arc::new(ZoneDb::system());
    let opts = StoreOptions {
        zones: zones.clone(),
        ..StoreOptions::default()
    };
    let store = Store::create(&path, Key::Raw(&key), opts.clone())?;

    println!("Cairn demo: {days} days of one patient's journal, sealed on this machine\n");
    println!("  store     {}", path.display());
    println!("  key       {key_note}");

    let t0 = Instant::now();
    let sim = simulate(&store, &zones, days, seed)?;
    let elapsed = t0.elapsed();
    let total = sim.logged;
    println!(
        "  logged    {total} entries on {} trackers ({} custom) in {:.1} s, each committed \
         with its outbox row before the next",
        sim.trackers_used,
        store.trackers()?.iter().filter(|t| !t.builtin).count(),
        elapsed.as_secs_f64()
    );
    if sim.trip_days > 0 {
        println!(
            "  travel    {} days in {TRIP_ZONE}: those entries keep Lisbon's local days",
            sim.trip_days
        );
    }
    println!("  edited    1 entry, deleted 1 (its content erased; a tombstone stays for sync)");
    println!(
        "  answered  {} questionnaires (PHQ-9 and GAD-7 every two weeks); {} infusion \
         sessions, each followed by the post-session routine",
        sim.questionnaires, sim.sessions
    );
    println!(
        "  outbox    {} changes waiting for the clinic",
        store.pending_changes()?
    );

    // Summary: the first two weeks against the last two.
    let all = store.entries(&EntryQuery::default())?;
    let trackers = store.trackers()?;
    let first_day = sim.first_day;
    let last_day = sim.last_day;
    let span = 14.min(days as i64 / 2).max(1);
    let window = |from: NaiveDate, to: NaiveDate| -> Vec<&Entry> {
        all.entries
            .iter()
            .filter(|e| (from..=to).contains(&e.local_date()))
            .collect()
    };
    let early = summarize(window(first_day, first_day + Duration::days(span - 1)));
    let late = summarize(window(last_day - Duration::days(span - 1), last_day));
    println!("\nHow it went: first {span} days -> last {span} days (means)");
    for t in &trackers {
        let find = |s: &[TrackerSummary]| s.iter().find(|x| x.tracker == t.id).and_then(|x| x.mean);
        let (Some(a), Some(b)) = (find(&early), find(&late)) else {
            continue;
        };
        let fmt = |x: f64| match t.kind {
            TrackerKind::Sleep | TrackerKind::Duration { .. } => {
                output::minutes_text(x.round() as u32)
            }
            TrackerKind::Medication | TrackerKind::YesNo => format!("{:.0}%", x * 100.0),
            _ => format!("{x:.1}"),
        };
        let scale = match &t.kind {
            TrackerKind::Scale { min, max, .. } => format!("  ({min} to {max})"),
            TrackerKind::Medication => "  (doses taken)".into(),
            _ => String::new(),
        };
        println!("  {:<16} {:>7} -> {:<7}{scale}", t.name, fmt(a), fmt(b));
    }
    let low = tags_on_low_days(&all.entries, "mood", 4.0);
    let triggers: Vec<String> = low
        .iter()
        .filter(|(t, _)| t.group == TagGroup::Trigger)
        .take(3)
        .map(|(t, n)| format!("{} ({n})", t.label))
        .collect();
    if !triggers.is_empty() {
        println!(
            "  on low-mood days (mean mood 4 or less) the most frequent triggers were: {}",
            triggers.join(", ")
        );
    }

    println!("\nTreatment course and change against baseline");
    for line in crate::outcomes::course_text(&store.course(Some("infusion"))?).lines() {
        println!("  {line}");
    }
    let flags = store.flags()?;
    println!(
        "  flags     {} for the clinic's review: {}",
        flags.len(),
        flags
            .iter()
            .map(|f| f.kind.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    reminders_week(&store)?;

    crate::demo_clinic::round(&store, &dir)?;

    // The report for the appointment: the last eight weeks, one page.
    let from = (last_day - Duration::days(55)).max(first_day);
    let report = store.report(from, last_day)?;
    let report_path = if temporary {
        std::env::temp_dir().join(format!("cairn-demo-report-{}.html", std::process::id()))
    } else {
        dir.join("report.html")
    };
    crate::export::write_private(
        &report_path,
        cairn_core::report::report_html(&report).as_bytes(),
    )?;
    println!(
        "\nReport: {} ({} to {}: mood and questionnaires over time with the sessions marked, \
         adherence, flags and their review state; open it in a browser, or print it)",
        report_path.display(),
        from,
        last_day
    );

    // What the patient's data looks like to someone without the key.
    store.checkpoint()?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    store.close()?;
    println!("\nChecks");
    let other = cairn_core::crypto::DataKey::generate()?;
    match Store::open(&path, Key::Raw(other.as_bytes()), opts.clone()) {
        Err(Error::WrongKey) => println!("  another key is refused with WrongKey, nothing written"),
        _ => return Err(Failure::other("the demo store opened with a wrong key")),
    }
    let reopened = Store::open(&path, Key::Raw(&key), opts)?;
    let n = reopened.entries(&EntryQuery::default())?.entries.len();
    println!(
        "  reopened with its key: {n} entries, integrity check {}",
        if reopened.integrity_check()? {
            "ok"
        } else {
            "FAILED"
        }
    );
    let bytes = std::fs::read(&path).unwrap_or_default();
    let leaked = JOURNAL_LINES
        .iter()
        .any(|l| bytes.windows(l.len()).any(|w| w == l.as_bytes()));
    println!(
        "  journal text found in the file in the clear: {}",
        if leaked { "YES" } else { "none" }
    );
    println!(
        "  file size {:.1} KiB ({:.0} bytes per entry)",
        size as f64 / 1024.0,
        size as f64 / total.max(1) as f64
    );
    reopened.close()?;

    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
        println!("\nThe temporary store was removed. Keep one with: cairn demo --data DIR");
    } else {
        println!(
            "\nLook around: cairn --data {} --key-file {} entries --from {}",
            dir.display(),
            dir.join("demo.key").display(),
            last_day - Duration::days(2)
        );
    }
    println!("Done in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}

fn demo_key(
    dir: &Path,
    key_file: Option<&Path>,
    temporary: bool,
) -> Result<(zeroize::Zeroizing<Vec<u8>>, String), Failure> {
    if let Some(f) = key_file {
        return Ok((keys::read_key_file(f)?, format!("from {}", f.display())));
    }
    let key = cairn_core::crypto::DataKey::generate()?;
    if temporary {
        return Ok((
            zeroize::Zeroizing::new(key.as_bytes().to_vec()),
            "random, held in memory only (as a phone's keystore would)".into(),
        ));
    }
    let kf: PathBuf = dir.join("demo.key");
    let hex = zeroize::Zeroizing::new(
        key.as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    );
    write_private(&kf, hex.as_bytes())?;
    Ok((
        zeroize::Zeroizing::new(key.as_bytes().to_vec()),
        format!(
            "random, written to {} for you to explore (a real store never keeps its key beside it)",
            kf.display()
        ),
    ))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .map_err(|e| Failure::other(format!("cannot write the demo key: {}", e.kind())))?;
    f.write_all(bytes)
        .map_err(|e| Failure::other(format!("cannot write the demo key: {}", e.kind())))
}

struct Simulated {
    logged: u64,
    questionnaires: u32,
    sessions: u32,
    trackers_used: usize,
    trip_days: u32,
    first_day: NaiveDate,
    last_day: NaiveDate,
}

fn simulate(store: &Store, zones: &ZoneDb, days: u32, seed: u64) -> Result<Simulated, Failure> {
    let mut rng = Rng(seed);
    let outside = store.add_tracker(NewTracker {
        name: "Minutes outside".into(),
        kind: TrackerKind::Duration { max_minutes: 600 },
    })?;
    let racing = store.add_tracker(NewTracker {
        name: "Racing thoughts".into(),
        kind: TrackerKind::Scale {
            min: 0.0,
            max: 4.0,
            step: 1.0,
            min_label: "calm".into(),
            max_label: "racing".into(),
        },
    })?;
    let now = Utc::now();
    let z = zones.zone(HOME_ZONE)?;
    let today =
        (now + Duration::seconds(i64::from(z.offset_at(now.timestamp_millis())))).date_naive();
    let first_day = today - Duration::days(i64::from(days) - 1);
    let trip = if days >= 20 {
        Some((days / 2, days / 2 + 4))
    } else {
        None
    };
    let mut logged = 0u64;
    let mut used = std::collections::HashSet::new();
    let mut wellbeing_noise = 0.0f64;
    let mut last_sleep = 420.0f64;
    let mut to_edit = None;
    let mut to_delete = None;
    // An infusion course: six sessions over two and a half weeks from a
    // little before the middle of the period; the post-session routine
    // follows each. Questionnaires every two weeks from the first day.
    let course_start = days * 4 / 9;
    let sessions: Vec<u32> = [0, 3, 7, 10, 14, 17]
        .iter()
        .map(|o| course_start + o)
        .filter(|d| *d < days)
        .collect();
    store.add_post_session_routine("infusion", first_day)?;
    let mut recorded_sessions = 0;
    let mut questionnaires = 0;
    let mut smoothed = 3.8f64;
    for d in 0..days {
        let day = first_day + Duration::days(i64::from(d));
        let zone = match trip {
            Some((a, b)) if (a..=b).contains(&d) => TRIP_ZONE,
            _ => HOME_ZONE,
        };
        let weekday = chrono::Datelike::weekday(&day).num_days_from_monday();
        // Slow improvement with treatment, day-to-day persistence, weekends a bit easier.
        wellbeing_noise = 0.6 * wellbeing_noise + 0.9 * rng.normal();
        let progress = f64::from(d) / f64::from(days.max(2) - 1);
        let poor_sleep = last_sleep < 360.0;
        let work = weekday < 5 && rng.chance(0.35);
        let walk = rng.chance(0.45);
        let therapy = weekday == 1;
        // The course lifts wellbeing within days; the lift fades slowly
        // after the last session.
        let lift = match (sessions.first(), sessions.last()) {
            (Some(&a), Some(&b)) if d >= a => {
                2.2 * (1.0 - (-f64::from(d - a) / 4.0).exp())
                    * (-f64::from(d.saturating_sub(b)) / 45.0).exp()
            }
            _ => 0.0,
        };
        let mut w =
            3.6 + 1.2 * progress + lift + wellbeing_noise + if weekday >= 5 { 0.4 } else { 0.0 };
        if poor_sleep {
            w -= 0.8;
        }
        if work {
            w -= 1.2;
        }
        if walk {
            w += 0.6;
        }
        let mut log = |tracker: &str,
                       value: Value,
                       h: u32,
                       m: u32,
                       tags: Vec<Tag>,
                       note: Option<String>|
         -> Result<Option<String>, Failure> {
            let at = local(zones, zone, day, h, m)?;
            if at > now {
                return Ok(None);
            }
            let e = store.log(NewEntry {
                tracker: tracker.into(),
                value,
                note,
                tags,
                at,
                zone: zone.into(),
            })?;
            logged += 1;
            used.insert(e.tracker.clone());
            Ok(Some(e.id))
        };
        let tag = |g: TagGroup, l: &str| Tag {
            group: g,
            label: l.into(),
        };
        smoothed = 0.85 * smoothed + 0.15 * w;
        if sessions.contains(&d) {
            let at = local(zones, zone, day, 10, 0)?;
            if at <= now {
                store.record_event("infusion", at, zone)?;
                recorded_sessions += 1;
            }
        }
        if d % 14 == 0 {
            let at = local(zones, zone, day, 18, 30)?;
            if at <= now {
                // Totals follow the fortnight's wellbeing; item 9 is
                // "several days" on the first PHQ-9 (a flag for review).
                let phq = clamp_round(31.0 - 3.4 * smoothed + 1.5 * rng.normal(), 0.0, 24.0) as u8;
                let gad = clamp_round(24.0 - 2.6 * smoothed + 1.5 * rng.normal(), 0.0, 21.0) as u8;
                let item9 = u8::from(d == 0);
                let spread = |rng: &mut Rng, total: u8, items: usize| {
                    let mut a = vec![0u8; items];
                    for _ in 0..total {
                        let free: Vec<usize> = (0..items).filter(|i| a[*i] < 3).collect();
                        if free.is_empty() {
                            break;
                        }
                        a[free[(rng.next() % free.len() as u64) as usize]] += 1;
                    }
                    a
                };
                let mut phq9: Vec<Option<u8>> = spread(&mut rng, phq.saturating_sub(item9), 8)
                    .into_iter()
                    .map(Some)
                    .collect();
                phq9.push(Some(item9));
                phq9.push(Some(u8::from(phq >= 10) + u8::from(phq >= 20)));
                store.checkin("phq9", phq9, at, zone)?;
                let gad7 = spread(&mut rng, gad, 7).into_iter().map(Some).collect();
                store.checkin("gad7", gad7, at + Duration::minutes(5), zone)?;
                questionnaires += 2;
            }
        }
        // Morning
        let sleep = (390.0 + 25.0 * (w - 4.0) + 35.0 * rng.normal()).clamp(180.0, 660.0);
        last_sleep = sleep;
        let quality = clamp_round(3.5 + 0.7 * (w - 3.0) + rng.normal(), 0.0, 10.0) as u8;
        log(
            "sleep",
            Value::Sleep {
                minutes: sleep as u32,
                quality: Some(quality),
            },
            7,
            rng.range(0, 40),
            vec![],
            None,
        )?;
        let mut morning_tags = vec![];
        if poor_sleep {
            morning_tags.push(tag(TagGroup::Trigger, "poor sleep"));
        }
        log(
            "mood",
            Value::Scale(clamp_round(w - 0.3 + 0.8 * rng.normal(), 0.0, 10.0)),
            7,
            45,
            morning_tags,
            None,
        )?;
        log(
            "anxiety",
            Value::Scale(clamp_round(8.2 - 0.8 * w + rng.normal(), 0.0, 10.0)),
            7,
            46,
            vec![],
            None,
        )?;
        log(
            "energy",
            Value::Scale(clamp_round(
                w + 0.5 + (sleep - 420.0) / 90.0 + rng.normal(),
                0.0,
                10.0,
            )),
            7,
            47,
            vec![],
            None,
        )?;
        log(
            "medication",
            Value::Medication {
                name: "sertraline 100 mg".into(),
                taken: rng.chance(0.93),
            },
            8,
            rng.range(0, 30),
            vec![],
            None,
        )?;
        // Midday
        if rng.chance(0.7) {
            let mut tags = vec![];
            if work {
                tags.push(tag(TagGroup::Trigger, "work stress"));
            }
            let id = log(
                "mood",
                Value::Scale(clamp_round(w + 0.8 * rng.normal(), 0.0, 10.0)),
                12,
                rng.range(10, 50),
                tags,
                None,
            )?;
            if d == days / 3 {
                to_delete = id;
            }
        }
        // Evening
        let mut tags = vec![];
        if work {
            tags.push(tag(TagGroup::Trigger, "work stress"));
        }
        if walk {
            tags.push(tag(TagGroup::Activity, "walk"));
        }
        if therapy {
            tags.push(tag(TagGroup::Activity, "therapy"));
        }
        if rng.chance(0.15) {
            tags.push(tag(TagGroup::Trigger, "conflict"));
        }
        let id = log(
            "mood",
            Value::Scale(clamp_round(w + 0.2 + 0.8 * rng.normal(), 0.0, 10.0)),
            20,
            rng.range(0, 59),
            tags,
            None,
        )?;
        if d == days / 4 {
            to_edit = id;
        }
        let anxiety = clamp_round(
            8.0 - 0.8 * w + if work { 1.5 } else { 0.0 } + rng.normal(),
            0.0,
            10.0,
        );
        log("anxiety", Value::Scale(anxiety), 20, 5, vec![], None)?;
        log(
            "irritability",
            Value::Scale(clamp_round(0.6 * anxiety + rng.normal(), 0.0, 10.0)),
            20,
            6,
            vec![],
            None,
        )?;
        let appetite = if w < 3.5 {
            -1.0
        } else if rng.chance(0.1) {
            1.0
        } else {
            0.0
        };
        log("appetite", Value::Scale(appetite), 20, 7, vec![], None)?;
        log(
            &racing.id,
            Value::Scale(clamp_round(anxiety / 2.5 + 0.5 * rng.normal(), 0.0, 4.0)),
            20,
            8,
            vec![],
            None,
        )?;
        let mins = if walk {
            rng.range(25, 90)
        } else {
            rng.range(0, 20)
        };
        log(
            &outside.id,
            Value::Duration { minutes: mins },
            21,
            0,
            vec![],
            None,
        )?;
        if rng.chance(3.0 / 7.0) {
            let line = JOURNAL_LINES[(rng.next() % JOURNAL_LINES.len() as u64) as usize];
            log("journal", Value::Text(line.into()), 21, 30, vec![], None)?;
        }
    }
    if let Some(id) = to_edit {
        let mut edit: NewEntry = store.entry(&id)?.into();
        edit.note = Some("Edited: it was a better evening than I first wrote.".into());
        store.update_entry(&id, edit)?;
    }
    if let Some(id) = to_delete {
        store.delete_entry(&id)?;
        logged -= 1;
    }
    Ok(Simulated {
        logged: logged + u64::from(questionnaires),
        questionnaires,
        sessions: recorded_sessions,
        trackers_used: used.len(),
        trip_days: trip.map_or(0, |(a, b)| b - a + 1),
        first_day,
        last_day: today,
    })
}

/// The patient's reminder plan: rules a clinic would set up, a recent
/// infusion, quiet hours, and the next week as the phone would schedule it.
fn reminders_week(store: &Store) -> Result<(), Failure> {
    use cairn_core::reminders::{
        Category, Limits, NewReminder, QuietHours, QuietPolicy, Schedule, ZonePolicy, parse_time,
    };
    let today = crate::reminders::today_in(HOME_ZONE)?;
    let t = |s: &str| parse_time(s).expect("demo times are valid");
    let mut rules = vec![
        NewReminder::new(
            Category::CheckIn,
            Schedule::Window {
                from: t("09:00"),
                to: t("11:00"),
                days: vec![],
            },
            today,
        ),
        NewReminder::new(
            Category::Journaling,
            Schedule::Weekly {
                days: vec![
                    chrono::Weekday::Mon,
                    chrono::Weekday::Wed,
                    chrono::Weekday::Fri,
                ],
                times: vec![t("21:00")],
            },
            today,
        ),
    ];
    let mut meds = NewReminder::new(
        Category::Medication,
        Schedule::Daily {
            times: vec![t("08:00")],
        },
        today,
    );
    meds.zone = ZonePolicy::Pinned(HOME_ZONE.into());
    meds.title = Some("sertraline 100 mg".into());
    meds.quiet = QuietPolicy::Ignore;
    rules.push(meds);
    for r in rules {
        store.add_reminder(r)?;
    }
    store.set_quiet_hours(Some(QuietHours {
        start: t("22:00"),
        end: t("07:00"),
    }))?;
    let now = Utc::now();
    let plan = store
        .plan_reminders(now, HOME_ZONE, &Limits::IOS, 7)?
        .notifications;
    println!(
        "\nReminders: the next 7 days as the phone would schedule them ({} of at most 64)",
        plan.len()
    );
    let mut by_cat: std::collections::BTreeMap<&str, u32> = Default::default();
    for n in &plan {
        *by_cat.entry(n.category.as_str()).or_default() += 1;
    }
    println!(
        "  {}",
        by_cat
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for n in plan.iter().take(6) {
        println!(
            "  {}  {:<12}  \"{}\"",
            crate::reminders::with_offset(n.fire_at_ms, n.utc_offset_seconds),
            n.category.as_str(),
            n.title
        );
    }
    println!("  (lock-screen text is generic: the medication's name stays sealed)");
    Ok(())
}
