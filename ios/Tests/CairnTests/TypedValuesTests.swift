import Cairn
import Foundation
import XCTest

/// `Date`, `DateComponents`, `TimeZone`, `Weekday` and the signed numbers at
/// their limits: through `testingEcho` (every typed value to Rust and back,
/// converted as real calls convert them) and through real calls.
final class TypedValuesTests: JournalTestCase {
    /// One set of values, the rest held to something ordinary.
    func values(
        at: Date = utc("2026-05-04T12:00"), day: DateComponents = localDay("2026-05-04"),
        time: DateComponents = wallTime("09:00"), zone: TimeZone = paris, weekday: Weekday = .monday,
        id: EntryId = EntryId("0123456789abcdef0123456789abcdef")
    ) -> TestingValues {
        TestingValues(at: at, day: day, time: time, zone: zone, weekday: weekday, id: id)
    }

    func echo(_ v: TestingValues) throws -> TestingValues {
        #if CAIRN_TESTING
        return try testingEcho(values: v)
        #else
        throw XCTSkip("testingEcho needs the testing build of cairn-ffi: bash tests/swift.sh")
        #endif
    }

    // MARK: instants

    func testEveryTypedValueRoundTripsAtItsLimits() throws {
        let instants = [
            "1600-01-01T00:00", "1960-06-01T00:00", "1969-12-31T23:59:59.999", "1970-01-01T00:00",
            "1970-01-01T00:00:00.001", "2024-02-29T12:34:56.789", "2199-12-31T23:59:59.999", "2500-07-01T00:00",
        ].map(utc)
        for at in instants {
            XCTAssertEqual(try echo(values(at: at)).at, at, "\(at)")
        }
        let days = ["0001-01-01", "1600-02-29", "1969-12-31", "1970-01-01", "2024-02-29", "2199-12-31", "9999-12-31"]
        for text in days {
            XCTAssertEqual(try echo(values(day: localDay(text))).day, localDay(text), text)
        }
        for text in ["00:00", "00:01", "12:30", "23:59"] {
            XCTAssertEqual(try echo(values(time: wallTime(text))).time, wallTime(text), text)
        }
        for name in ["America/St_Johns", "Asia/Kathmandu", "Pacific/Kiritimati", "UTC", "Europe/Paris"] {
            XCTAssertEqual(try echo(values(zone: zone(name))).zone, zone(name), name)
        }
        for weekday in Weekday.allCases {
            XCTAssertEqual(try echo(values(weekday: weekday)).weekday, weekday, "\(weekday)")
        }
        let id = EntryId(String(repeating: "f", count: 32))
        XCTAssertEqual(try echo(values(id: id)).id, id)
    }

    /// Instants before 1970 travel both ways (the calendar's bounds are the
    /// journal's, not the values'), and the zone database reads them.
    func testInstantsBefore1970() async throws {
        let june1960 = utc("1960-06-01T00:00")
        XCTAssertEqual(try echo(values(at: june1960)).at, june1960)
        XCTAssertLessThan(june1960.timeIntervalSince1970, 0)

        let db = try ZoneDatabase.system()
        XCTAssertEqual(try db.utcOffsetSeconds(zone: paris, at: june1960), 3600, "Paris kept no summer time in 1960")
        XCTAssertEqual(try db.utcOffsetSeconds(zone: zone("America/New_York"), at: june1960), -4 * 3600, "New York did")
        for name in ["Europe/Paris", "America/New_York", "Asia/Kathmandu"] {
            XCTAssertEqual(
                try db.utcOffsetSeconds(zone: zone(name), at: june1960), Int32(zone(name).secondsFromGMT(for: june1960)), name)
        }
    }

    /// The journal's calendar is 1970 to 2199: its first and last
    /// milliseconds are accepted, the one before 1970 is refused.
    func testTheCalendarsFirstAndLastMilliseconds() async throws {
        let journal = try await makeJournal()
        let r = try journal.reminders()
        let first = utc("1970-01-01T00:00:00.000")
        let last = utc("2199-12-31T23:59:59.999")
        let before = utc("1969-12-31T23:59:59.999")
        XCTAssertEqual(ms(before), -1)

        let entry = try await journal.log(entry: moodEntry(5, at: first, zone: utcZone))
        XCTAssertEqual(entry.at, first)
        XCTAssertEqual(entry.localDate, localDay("1970-01-01"))
        let read = try await journal.entry(id: entry.id)
        XCTAssertEqual(read.at, first)
        // An entry cannot be ahead of the clock; an event can be anywhere in the calendar.
        let event = try await r.recordEvent(kind: "infusion", at: last, zone: utcZone)
        XCTAssertEqual(event.at, last)
        let events = try await r.events()
        XCTAssertEqual(events.map(\.at), [last])
        let all = try await journal.entries(query: EntryQuery(from: first, to: last))
        XCTAssertEqual(all.entries, [entry])

        let refused = await assertInvalid("at") { try await journal.log(entry: moodEntry(5, at: before, zone: utcZone)) }
        XCTAssertEqual(refused?.localizedDescription, "invalid at: must lie between 1970 and 2199")
        await assertInvalid("at") { try await r.recordEvent(kind: "infusion", at: before, zone: utcZone) }
        await assertInvalid("at") { try await r.recordEvent(kind: "infusion", at: last.shifted(0.001), zone: utcZone) }
        await assertInvalid("now") { try await r.plan(now: before, deviceZone: utcZone, limits: iosLimits(), horizonDays: 1) }
        let pending = try await journal.pendingChanges()
        XCTAssertEqual(pending, 2, "the refused calls wrote nothing")
    }

    /// A `Date` holds fractions of a millisecond; the journal keeps whole
    /// milliseconds, rounded to the nearest, and what it returns comes back
    /// unchanged when written again.
    func testSubMillisecondDatesRoundToTheNearestMillisecondWithoutDrift() async throws {
        let journal = try await makeJournal()
        let base = utc("2025-05-04T12:00")
        let cases: [(TimeInterval, Int64)] = [(0.1234, 123), (0.1236, 124), (0.0004, 0), (0.0006, 1), (0.9996, 1000)]
        for (fraction, expected) in cases {
            let at = Date(timeIntervalSince1970: base.timeIntervalSince1970 + fraction)
            var entry = try await journal.log(entry: moodEntry(5, at: at, zone: utcZone))
            XCTAssertEqual(ms(entry.at) - ms(base), expected, "+\(fraction) s")
            XCTAssertEqual(entry.at, instant(ms: ms(base) + expected), "exactly the millisecond")
            let first = entry.at
            for _ in 0..<5 {
                entry = try await journal.updateEntry(id: entry.id, entry: moodEntry(5, at: entry.at, zone: utcZone))
            }
            XCTAssertEqual(entry.at, first, "no drift after writing it back")
            XCTAssertEqual(try echo(values(at: at)).at, first)
        }
        // Before 1970 too (through testingEcho: the journal refuses them).
        for (seconds, expected) in [(-1.2344, Int64(-1234)), (-1.2346, -1235), (-0.0004, 0), (-0.0006, -1)] {
            let back = try echo(values(at: Date(timeIntervalSince1970: seconds))).at
            XCTAssertEqual(ms(back), expected, "\(seconds) s")
            XCTAssertEqual(try echo(values(at: back)).at, back, "no drift")
        }
    }

    // MARK: zones and days

    /// Europe/Paris moves its clocks on 2025-03-30 (02:00 becomes 03:00) and
    /// 2025-10-26 (03:00 becomes 02:00): each entry has the offset in force
    /// and the local day it was there, and the day's listing holds them.
    func testDaylightSavingDaysInParis() async throws {
        let journal = try await makeJournal()
        let db = try ZoneDatabase.system()
        let cases: [(String, Int32, String)] = [
            ("2025-03-29T22:30", 3600, "2025-03-29"),  // 23:30 CET
            ("2025-03-29T23:30", 3600, "2025-03-30"),  // 00:30 CET
            ("2025-03-30T00:30", 3600, "2025-03-30"),  // 01:30 CET, before the gap
            ("2025-03-30T01:30", 7200, "2025-03-30"),  // 03:30 CEST, after it
            ("2025-10-25T22:30", 7200, "2025-10-26"),  // 00:30 CEST
            ("2025-10-26T00:30", 7200, "2025-10-26"),  // 02:30 CEST, the first 02:30
            ("2025-10-26T01:30", 3600, "2025-10-26"),  // 02:30 CET, the second
            ("2025-10-26T23:30", 3600, "2025-10-27"),  // 00:30 CET
        ]
        var logged: [Entry] = []
        for (text, offset, day) in cases {
            let at = utc(text)
            let entry = try await journal.log(entry: moodEntry(5, at: at, zone: paris))
            XCTAssertEqual(entry.utcOffsetSeconds, offset, text)
            XCTAssertEqual(entry.localDate, localDay(day), text)
            XCTAssertEqual(entry.localDate, foundationDay(at, paris), text)
            XCTAssertEqual(try db.utcOffsetSeconds(zone: paris, at: at), offset, text)
            XCTAssertEqual(Int32(paris.secondsFromGMT(for: at)), offset, text)
            logged.append(entry)
        }
        for day in ["2025-03-30", "2025-10-26"] {
            let page = try await journal.entries(query: EntryQuery(fromDay: localDay(day), toDay: localDay(day)))
            XCTAssertEqual(page.entries.map(\.id), logged.filter { $0.localDate == localDay(day) }.map(\.id), day)
            XCTAssertEqual(page.entries.count, 3, day)
        }
    }

    /// Zones with half-hour and three-quarter-hour offsets, and the earliest
    /// one (UTC+14: its day starts before anyone else's).
    func testZonesWithUnusualOffsets() async throws {
        let journal = try await makeJournal()
        let cases: [(String, String, Int32, String)] = [
            ("America/St_Johns", "2025-01-15T12:00", -(3 * 3600 + 1800), "2025-01-15"),
            ("America/St_Johns", "2025-07-15T02:00", -(2 * 3600 + 1800), "2025-07-14"),
            ("Asia/Kathmandu", "2025-01-15T18:30", 5 * 3600 + 45 * 60, "2025-01-16"),
            ("Asia/Kathmandu", "2025-07-15T18:00", 5 * 3600 + 45 * 60, "2025-07-15"),
            ("Pacific/Kiritimati", "2025-01-15T10:30", 14 * 3600, "2025-01-16"),
            ("Pacific/Kiritimati", "2025-01-15T09:30", 14 * 3600, "2025-01-15"),
        ]
        let db = try ZoneDatabase.system()
        for (name, text, offset, day) in cases {
            let z = zone(name)
            let at = utc(text)
            let entry = try await journal.log(entry: moodEntry(5, at: at, zone: z))
            XCTAssertEqual(entry.zone, z, name)
            XCTAssertEqual(entry.zone.identifier, name)
            XCTAssertEqual(entry.utcOffsetSeconds, offset, "\(name) \(text)")
            XCTAssertEqual(entry.localDate, localDay(day), "\(name) \(text)")
            XCTAssertEqual(entry.localDate, foundationDay(at, z), "\(name) \(text)")
            XCTAssertEqual(try db.utcOffsetSeconds(zone: z, at: at), Int32(z.secondsFromGMT(for: at)), name)
        }
    }

    // MARK: wall-clock times

    /// 00:00 and 23:59 are times of day; a time with seconds, or a fraction
    /// of one, is not whole minutes; one without an hour is no time.
    func testWallTimesAtTheEdgesOfTheDay() async throws {
        let r = try await makeJournal().reminders()
        let edges = [wallTime("00:00"), wallTime("23:59")]
        let added = try await r.add(reminder: NewReminder(
            category: .checkIn, schedule: .daily(times: edges), start: localDay("2026-06-01"), zone: utcZone))
        XCTAssertEqual(added.schedule, .daily(times: edges))
        let occurrences = try await r.occurrences(from: utc("2026-06-01T00:00"), to: utc("2026-06-02T00:00"), deviceZone: utcZone)
        XCTAssertEqual(occurrences.map(\.fireAt), [utc("2026-06-01T00:00"), utc("2026-06-01T23:59")])
        let quiet = QuietHours(start: wallTime("23:59"), end: wallTime("00:00"))
        try await r.setQuietHours(quiet: quiet)
        let read = try await r.quietHours()
        XCTAssertEqual(read, quiet)

        let refused: [(String, DateComponents)] = [
            ("09:00:30", DateComponents(hour: 9, minute: 0, second: 30)),
            ("09:00 and a fraction", DateComponents(hour: 9, minute: 0, second: 0, nanosecond: 500_000_000)),
            ("no hour", DateComponents(minute: 30)),
            ("24:00", DateComponents(hour: 24, minute: 0)),
            ("09:60", DateComponents(hour: 9, minute: 60)),
        ]
        for (name, time) in refused {
            let error = await assertInvalid("times", name) {
                try await r.add(reminder: NewReminder(
                    category: .checkIn, schedule: .daily(times: [time]), start: localDay("2026-06-01")))
            }
            XCTAssertEqual(error?.localizedDescription.hasPrefix("invalid times: "), true, name)
            await assertInvalid("time", name) { try self.echo(self.values(time: time)) }
        }
        let seconds = await assertInvalid("times") {
            try await r.add(reminder: NewReminder(
                category: .checkIn, schedule: .daily(times: [DateComponents(hour: 9, minute: 0, second: 30)]),
                start: localDay("2026-06-01")))
        }
        XCTAssertEqual(seconds?.localizedDescription, "invalid times: must be whole minutes")
        let list = try await r.list()
        XCTAssertEqual(list.reminders, [added], "nothing else was stored")
    }

    // MARK: local days

    /// A day is year, month and day: one missing is refused, naming the
    /// argument it was given for.
    func testDaysMissingAFieldAreRefusedNamingTheField() async throws {
        let journal = try await makeJournal()
        let r = try journal.reminders()
        let missing = [
            DateComponents(year: 2026, month: 2),
            DateComponents(year: 2026, day: 1),
            DateComponents(month: 2, day: 1),
            DateComponents(),
        ]
        for day in missing {
            await assertInvalid("fromDay", "\(day)") { try await journal.entries(query: EntryQuery(fromDay: day)) }
            await assertInvalid("toDay", "\(day)") { try await journal.entries(query: EntryQuery(toDay: day)) }
            await assertInvalid("start", "\(day)") {
                try await r.add(reminder: NewReminder(category: .checkIn, schedule: .daily(times: [wallTime("09:00")]), start: day))
            }
            await assertInvalid("end", "\(day)") {
                try await r.add(reminder: NewReminder(
                    category: .checkIn, schedule: .daily(times: [wallTime("09:00")]), start: localDay("2026-01-01"), end: day))
            }
            await assertInvalid("date", "\(day)") {
                try await r.add(reminder: NewReminder(
                    category: .appointment, schedule: .once(date: day, time: wallTime("09:00")), start: localDay("2026-01-01")))
            }
            await assertInvalid("day", "\(day)") { try self.echo(self.values(day: day)) }
        }
        let list = try await r.list()
        XCTAssertEqual(list.reminders, [])
    }

    /// 2024-02-29 exists, 2023-02-29 does not; days far from now are days.
    func testLeapDaysAndFarDates() async throws {
        let journal = try await makeJournal()
        let r = try journal.reminders()
        let leap = localDay("2024-02-29")
        let once = try await r.add(reminder: NewReminder(
            category: .appointment, schedule: .once(date: leap, time: wallTime("10:00")), start: localDay("2024-01-01"), zone: utcZone))
        XCTAssertEqual(once.schedule, .once(date: leap, time: wallTime("10:00")))
        XCTAssertEqual(once.start, leap, "a one-off starts on its date")
        let fires = try await r.occurrences(from: utc("2024-02-01T00:00"), to: utc("2024-03-10T00:00"), deviceZone: utcZone)
        XCTAssertEqual(fires.map(\.fireAt), [utc("2024-02-29T10:00")])

        let daily = try await r.add(reminder: NewReminder(
            category: .checkIn, schedule: .daily(times: [wallTime("08:00")]), start: leap, zone: utcZone, end: localDay("2199-12-31")))
        XCTAssertEqual(daily.start, leap)
        XCTAssertEqual(daily.end, localDay("2199-12-31"))

        await assertInvalid("start") {
            try await r.add(reminder: NewReminder(
                category: .checkIn, schedule: .daily(times: [wallTime("08:00")]), start: localDay("2023-02-29")))
        }
        await assertInvalid("date") {
            try await r.add(reminder: NewReminder(
                category: .appointment, schedule: .once(date: localDay("2023-02-29"), time: wallTime("10:00")),
                start: localDay("2023-01-01")))
        }
        // Far days filter as days: nothing logged is before year 1 or after 9999.
        _ = try await journal.log(entry: moodEntry(5, at: utc("2025-06-01T12:00"), zone: utcZone))
        let wide = try await journal.entries(query: EntryQuery(fromDay: localDay("0001-01-01"), toDay: localDay("9999-12-31")))
        XCTAssertEqual(wide.entries.count, 1)
        let early = try await journal.entries(query: EntryQuery(toDay: localDay("1969-12-31")))
        XCTAssertEqual(early.entries, [])
        for text in ["0001-01-01", "1600-02-29", "2024-02-29", "9999-12-31"] {
            XCTAssertEqual(try echo(values(day: localDay(text))).day, localDay(text), text)
        }
        await assertInvalid("day") { try self.echo(self.values(day: localDay("1900-02-29"))) }
    }

    // MARK: weekdays

    /// Each of the seven days, through a weekly reminder: it fires on that
    /// day as Foundation's calendar names it.
    func testAllSevenWeekdaysThroughAWeeklyReminder() async throws {
        let r = try await makeJournal().reminders()
        let all = try await r.add(reminder: NewReminder(
            category: .checkIn, schedule: .weekly(days: Weekday.allCases, times: [wallTime("09:00")]),
            start: localDay("2026-06-01"), zone: utcZone))
        XCTAssertEqual(all.schedule, .weekly(days: Weekday.allCases, times: [wallTime("09:00")]))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utcZone
        let week = try await r.occurrences(from: utc("2026-06-01T00:00"), to: utc("2026-06-08T00:00"), deviceZone: utcZone)
        XCTAssertEqual(week.count, 7)
        XCTAssertEqual(week.map { Weekday(gregorianWeekday: calendar.component(.weekday, from: $0.fireAt)) }, Weekday.allCases)
        try await r.delete(id: all.id)

        for weekday in Weekday.allCases {
            let one = try await r.add(reminder: NewReminder(
                category: .checkIn, schedule: .weekly(days: [weekday], times: [wallTime("09:00")]),
                start: localDay("2026-06-01"), zone: utcZone))
            XCTAssertEqual(one.schedule, .weekly(days: [weekday], times: [wallTime("09:00")]))
            let fires = try await r.occurrences(from: utc("2026-06-01T00:00"), to: utc("2026-06-15T00:00"), deviceZone: utcZone)
            XCTAssertEqual(fires.count, 2, "\(weekday)")
            for fire in fires {
                XCTAssertEqual(Weekday(gregorianWeekday: calendar.component(.weekday, from: fire.fireAt)), weekday)
            }
            try await r.delete(id: one.id)
        }
    }

    func testWeekdayFromFoundationsNumbering() {
        let expected: [Int: Weekday] = [
            1: .sunday, 2: .monday, 3: .tuesday, 4: .wednesday, 5: .thursday, 6: .friday, 7: .saturday,
        ]
        for (n, weekday) in expected {
            XCTAssertEqual(Weekday(gregorianWeekday: n), weekday, "\(n)")
            XCTAssertEqual(weekday.gregorianWeekday, n)
        }
        XCTAssertNil(Weekday(gregorianWeekday: 0))
        XCTAssertNil(Weekday(gregorianWeekday: 8))
        XCTAssertEqual(Weekday.allCases.map(\.rawValue), [1, 2, 3, 4, 5, 6, 7], "ISO numbering")
        // 2026-06-01 is a Monday for Foundation too.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utcZone
        XCTAssertEqual(Weekday(gregorianWeekday: calendar.component(.weekday, from: utc("2026-06-01T12:00"))), .monday)
    }

    // MARK: signed numbers

    /// Every count and limit is a signed number: a negative one is refused
    /// with the field's name, nothing is written.
    func testNegativeCountsAreRefusedNamingTheField() async throws {
        let journal = try await makeJournal()
        let r = try journal.reminders()
        let t = wallTime("09:00")
        func rule(_ schedule: ReminderSchedule, count: Int32? = nil, grace: Int32 = 60) -> NewReminder {
            NewReminder(
                category: .checkIn, schedule: schedule, start: localDay("2026-01-01"), count: count, graceMinutes: grace)
        }
        await assertInvalid("limit") { try await journal.entries(query: EntryQuery(limit: -1)) }
        await assertInvalid("value") {
            try await journal.log(entry: NewEntry(tracker: "sleep", value: .sleep(minutes: -1, quality: nil), at: rightNow(), zone: utcZone))
        }
        await assertInvalid("value") {
            try await journal.log(entry: NewEntry(tracker: "sleep", value: .sleep(minutes: 60, quality: -1), at: rightNow(), zone: utcZone))
        }
        let counter = try await journal.addTracker(tracker: NewTracker(name: "Glasses", kind: .count))
        await assertInvalid("value") {
            try await journal.log(entry: NewEntry(tracker: counter.id.value, value: .count(value: -1), at: rightNow(), zone: utcZone))
        }
        let minutes = try await journal.addTracker(tracker: NewTracker(name: "Reading", kind: .duration(maxMinutes: 600)))
        await assertInvalid("value") {
            try await journal.log(entry: NewEntry(tracker: minutes.id.value, value: .duration(minutes: -1), at: rightNow(), zone: utcZone))
        }
        await assertInvalid("maxMinutes") {
            try await journal.addTracker(tracker: NewTracker(name: "Backwards", kind: .duration(maxMinutes: -1)))
        }
        await assertInvalid("count") { try await r.add(reminder: rule(.daily(times: [t]), count: -1)) }
        await assertInvalid("graceMinutes") { try await r.add(reminder: rule(.daily(times: [t]), grace: -1)) }
        await assertInvalid("n") { try await r.add(reminder: rule(.everyNDays(n: -1, times: [t]))) }
        await assertInvalid("day") { try await r.add(reminder: rule(.monthDay(day: -1, times: [t]))) }
        await assertInvalid("minutes") { try await r.add(reminder: rule(.afterEvent(event: "infusion", steps: [.after(minutes: -1)]))) }
        await assertInvalid("day") { try await r.add(reminder: rule(.afterEvent(event: "infusion", steps: [.dayAt(day: -1, time: t)]))) }
        let now = utc("2026-05-04T00:00")
        await assertInvalid("horizonDays") { try await r.plan(now: now, deviceZone: utcZone, limits: iosLimits(), horizonDays: -1) }
        await assertInvalid("maxPending") {
            try await r.plan(
                now: now, deviceZone: utcZone,
                limits: PlatformLimits(maxPending: -1, exactAlarms: true, inexactWindowMinutes: 10), horizonDays: 7)
        }
        await assertInvalid("inexactWindowMinutes") {
            try await r.plan(
                now: now, deviceZone: utcZone,
                limits: PlatformLimits(maxPending: 64, exactAlarms: false, inexactWindowMinutes: -1), horizonDays: 7)
        }
        let added = try await r.add(reminder: rule(.daily(times: [t])))
        let plan = try await r.plan(now: now, deviceZone: utcZone, limits: iosLimits(), horizonDays: 1).notifications
        let n = try XCTUnwrap(plan.first)
        let bent = PlannedNotification(
            id: n.id, reminderId: n.reminderId, occurrence: n.occurrence, due: n.due, fireAt: n.fireAt,
            utcOffsetSeconds: n.utcOffsetSeconds, category: n.category, title: n.title, body: n.body, exact: n.exact,
            windowMinutes: -1)
        await assertInvalid("windowMinutes") { try diffPlan(plan: [bent], heldIds: []) }

        let list = try await r.list()
        XCTAssertEqual(list.reminders, [added], "nothing else was stored")
        let page = try await journal.entries(query: EntryQuery())
        XCTAssertEqual(page.entries, [], "nothing was logged")
    }
}
