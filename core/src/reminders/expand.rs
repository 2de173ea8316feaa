//! Rules to instants: local dates and wall-clock times in a zone, with
//! RFC 5545's handling of gaps (shift forward by the gap) and overlaps
//! (first occurrence).

use super::{Occurrence, Reminder, ReminderEvent, Schedule, Step};
use crate::zones::Zone;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Timelike};

const DAY_S: i64 = 86_400;

fn local_secs(d: NaiveDate, t: NaiveTime) -> i64 {
    d.and_time(t).and_utc().timestamp()
}

fn offset_s(zone: &Zone, unix_s: i64) -> i64 {
    i64::from(zone.offset_at(unix_s * 1000))
}

/// The instant (Unix seconds) and UTC offset of a wall-clock time in a zone:
/// unique when the time exists once; the first occurrence in an overlap;
/// shifted forward by the gap's length in a gap.
pub fn local_to_utc(zone: &Zone, date: NaiveDate, time: NaiveTime) -> (i64, i32) {
    let local = local_secs(date, time);
    resolve(
        zone,
        local,
        offset_s(zone, local - DAY_S),
        offset_s(zone, local + DAY_S),
    )
}

/// `before` and `after` are the offsets in force a day before and a day
/// after the local time (taken as UTC); zones change offset at most once
/// in such a span.
fn resolve(zone: &Zone, local: i64, before: i64, after: i64) -> (i64, i32) {
    let t1 = local - before;
    let ok1 = offset_s(zone, t1) == before;
    if before == after && ok1 {
        return (t1, before as i32);
    }
    let t2 = local - after;
    let ok2 = offset_s(zone, t2) == after;
    match (ok1, ok2) {
        (true, true) => {
            if t1 <= t2 {
                (t1, before as i32)
            } else {
                (t2, after as i32)
            }
        }
        (true, false) => (t1, before as i32),
        (false, true) => (t2, after as i32),
        // A gap: read the time with the offset before the transition,
        // which lands the length of the gap later.
        (false, false) => (t1, offset_s(zone, t1) as i32),
    }
}

/// Resolves the times of one local date: when the offsets a day either side
/// agree (almost every day), each time needs one lookup to confirm instead
/// of the three of [`resolve`].
struct DayResolver<'a> {
    zone: &'a Zone,
}

impl DayResolver<'_> {
    fn times(
        &self,
        date: NaiveDate,
        times: &[NaiveTime],
        mut out: impl FnMut(NaiveTime, i64, i32),
    ) {
        let midnight = local_secs(date, NaiveTime::MIN);
        let before = offset_s(self.zone, midnight - DAY_S);
        let after = offset_s(self.zone, midnight + 2 * DAY_S);
        for &t in times {
            let local = midnight + i64::from(t.num_seconds_from_midnight());
            let (utc, off) = if before == after && offset_s(self.zone, local - before) == before {
                (local - before, before as i32)
            } else {
                resolve(
                    self.zone,
                    local,
                    offset_s(self.zone, local - DAY_S),
                    offset_s(self.zone, local + DAY_S),
                )
            };
            out(t, utc, off);
        }
    }
}

/// The last day of a month.
fn last_day(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .expect("valid month")
        .pred_opt()
        .expect("valid date")
        .day()
}

/// The minute of a window occurrence: a hash of the rule's seed and id and
/// the date, uniform over the window.
fn window_minute(rule: &Reminder, date: NaiveDate, from: NaiveTime, to: NaiveTime) -> NaiveTime {
    let span = (to.num_seconds_from_midnight() - from.num_seconds_from_midnight()) / 60;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&rule.seed.to_be_bytes());
    ctx.update(rule.id.as_bytes());
    ctx.update(&date.num_days_from_ce().to_be_bytes());
    let h = ctx.finish();
    let v = u64::from_be_bytes(h.as_ref()[..8].try_into().expect("8 bytes"));
    let m = from.num_seconds_from_midnight() / 60 + (v % u64::from(span.max(1))) as u32;
    NaiveTime::from_hms_opt(m / 60, m % 60, 0).expect("minute within the day")
}

/// Which times fire on `date` (empty when none).
fn times_on(rule: &Reminder, date: NaiveDate, scratch: &mut Vec<NaiveTime>) {
    scratch.clear();
    let wd = date.weekday();
    match &rule.schedule {
        Schedule::Daily { times } => scratch.extend_from_slice(times),
        Schedule::Weekly { days, times } => {
            if days.contains(&wd) {
                scratch.extend_from_slice(times);
            }
        }
        Schedule::EveryNDays { n, times } => {
            if (date - rule.start).num_days().rem_euclid(i64::from(*n)) == 0 {
                scratch.extend_from_slice(times);
            }
        }
        Schedule::MonthDay { day, times } => {
            let target = u32::from(*day).min(last_day(date.year(), date.month()));
            if date.day() == target {
                scratch.extend_from_slice(times);
            }
        }
        Schedule::Once { date: d, time } => {
            if *d == date {
                scratch.push(*time);
            }
        }
        Schedule::Window { from, to, days } => {
            if days.is_empty() || days.contains(&wd) {
                scratch.push(window_minute(rule, date, *from, *to));
            }
        }
        Schedule::AfterEvent { .. } => {}
    }
}

/// Expands `rule` in `zone` to its occurrences firing in `[from_s, to_s)`
/// (Unix seconds), in time order. Rules with a count limit are expanded
/// from their start so the limit counts every occurrence.
pub(crate) fn expand(
    rule: &Reminder,
    zone: &Zone,
    events: &[ReminderEvent],
    from_s: i64,
    to_s: i64,
) -> Vec<Occurrence> {
    let mut out = Vec::new();
    if let Schedule::AfterEvent { event, steps } = &rule.schedule {
        expand_events(rule, zone, events, event, steps, &mut out);
    } else {
        let day_of = |s: i64| -> NaiveDate {
            let off = offset_s(zone, s);
            chrono::DateTime::from_timestamp(s + off, 0)
                .map(|d| d.date_naive())
                .unwrap_or_default()
        };
        let mut d = if rule.count.is_some() {
            rule.start
        } else {
            rule.start.max(day_of(from_s) - Duration::days(1))
        };
        let last = {
            let l = day_of(to_s) + Duration::days(1);
            rule.end.map_or(l, |e| e.min(l))
        };
        let resolver = DayResolver { zone };
        let mut scratch = Vec::with_capacity(4);
        while d <= last {
            times_on(rule, d, &mut scratch);
            if !scratch.is_empty() {
                let date = d;
                resolver.times(d, &scratch, |t, utc, off| {
                    let slot = match &rule.schedule {
                        Schedule::Window { .. } => 0,
                        _ => scratch_index(&rule.schedule, t),
                    };
                    out.push(Occurrence {
                        key: occurrence_key(&rule.id, date, slot),
                        reminder_id: rule.id.clone(),
                        seq: 0,
                        fire_ms: utc * 1000,
                        utc_offset_seconds: off,
                    });
                });
            }
            if rule.count.is_some_and(|c| out.len() >= c as usize) {
                break;
            }
            d = match d.succ_opt() {
                Some(n) => n,
                None => break,
            };
        }
    }
    if let Some(c) = rule.count {
        out.sort_by_key(|o| o.fire_ms);
        out.truncate(c as usize);
    }
    out.retain(|o| o.fire_ms >= from_s * 1000 && o.fire_ms < to_s * 1000);
    for (i, o) in out.iter_mut().enumerate() {
        o.seq = i as u32;
    }
    out
}

/// `rule:YYYY-MM-DD:slot`, built without the formatting machinery (a year
/// of a three-times-a-day rule makes 1,095 of them).
fn occurrence_key(rule: &str, date: NaiveDate, slot: usize) -> String {
    fn digits(s: &mut String, n: u32, width: u32) {
        for i in (0..width).rev() {
            s.push(char::from(b'0' + ((n / 10u32.pow(i)) % 10) as u8));
        }
    }
    let mut s = String::with_capacity(rule.len() + 14);
    s.push_str(rule);
    s.push(':');
    let y = date.year();
    if (0..=9999).contains(&y) {
        digits(&mut s, y as u32, 4);
    } else {
        s.push_str(&y.to_string());
    }
    s.push('-');
    digits(&mut s, date.month(), 2);
    s.push('-');
    digits(&mut s, date.day(), 2);
    s.push(':');
    digits(&mut s, slot as u32, if slot < 10 { 1 } else { 2 });
    s
}

fn scratch_index(s: &Schedule, t: NaiveTime) -> usize {
    let times: &[NaiveTime] = match s {
        Schedule::Daily { times }
        | Schedule::Weekly { times, .. }
        | Schedule::EveryNDays { times, .. }
        | Schedule::MonthDay { times, .. } => times,
        _ => &[],
    };
    times.iter().position(|x| *x == t).unwrap_or(0)
}

fn expand_events(
    rule: &Reminder,
    zone: &Zone,
    events: &[ReminderEvent],
    kind: &str,
    steps: &[Step],
    out: &mut Vec<Occurrence>,
) {
    let mut evs: Vec<&ReminderEvent> = events.iter().filter(|e| e.kind == kind).collect();
    evs.sort_by_key(|e| e.at_ms);
    for e in evs {
        let ev_s = e.at_ms.div_euclid(1000);
        let ev_date = chrono::DateTime::from_timestamp(ev_s + offset_s(zone, ev_s), 0)
            .map(|d| d.date_naive())
            .unwrap_or_default();
        if ev_date < rule.start || rule.end.is_some_and(|end| ev_date > end) {
            continue;
        }
        for (i, s) in steps.iter().enumerate() {
            let (utc, off) = match s {
                Step::After { minutes } => {
                    let t = ev_s + i64::from(*minutes) * 60;
                    (t, offset_s(zone, t) as i32)
                }
                Step::DayAt { day, time } => {
                    local_to_utc(zone, ev_date + Duration::days(i64::from(*day)), *time)
                }
            };
            out.push(Occurrence {
                key: format!("{}:e{}:{}", rule.id, e.id, i),
                reminder_id: rule.id.clone(),
                seq: 0,
                fire_ms: utc * 1000,
                utc_offset_seconds: off,
            });
        }
    }
    out.sort_by_key(|o| o.fire_ms);
    for (i, o) in out.iter_mut().enumerate() {
        o.seq = i as u32;
    }
}
