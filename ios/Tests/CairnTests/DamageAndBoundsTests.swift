import Cairn
import CairnKit
import Foundation
import XCTest

/// Edits a sealed record in the store file as an attacker with the file but
/// not the key would (`testingTamper`, testing builds of cairn-ffi only).
private func tamper(_ path: String, _ table: String, _ id: String, _ how: String) throws {
    #if CAIRN_TESTING
    try testingTamper(path: path, table: table, id: id, how: how)
    #else
    throw XCTSkip("testingTamper needs the testing build of cairn-ffi: bash tests/swift.sh")
    #endif
}

/// Every way `testingTamper` edits a record: one bit of the ciphertext, the
/// revision alone, the tombstone flag alone.
private let tamperings = ["flip_body", "bump_revision", "set_deleted"]

/// What an app sees when one record in the file is damaged: the damage is
/// confined to that record, named (table and id) wherever it was skipped, and
/// every good rule and entry keeps working. One fresh journal per case.
final class DamageTests: JournalTestCase {
    /// 2026-05-04T00:00Z, a Monday.
    let now = utc("2026-05-04T00:00")
    let zone = utcZone
    let horizon: Int32 = 2

    /// A journal with quiet hours 22:00-07:00, three daily rules, an
    /// after-event rule and two recorded events.
    struct Fixture {
        let path: String
        let journal: Journal
        let reminders: Reminders
        /// Daily 06:30, deferred to 07:00 by the quiet hours.
        let early: Reminder
        /// Daily 12:00 (medication).
        let noon: Reminder
        /// Daily 18:00 (journaling).
        let evening: Reminder
        /// 3 h after each `infusion` (quiet hours ignored).
        let afterSession: Reminder
        /// `infusion` 2 h before now, and 1 h before now.
        let older: ReminderEvent
        let newer: ReminderEvent

        var rules: [Reminder] { [early, noon, evening, afterSession] }
    }

    func fixture(_ name: String) async throws -> Fixture {
        let p = path(name + ".cairn")
        let journal = try await makeJournal(name + ".cairn")
        let r = try journal.reminders()
        try await r.setQuietHours(quiet: QuietHours(start: wallTime("22:00"), end: wallTime("07:00")))
        let early = try await r.add(reminder: daily(["06:30"]))
        let noon = try await r.add(reminder: daily(["12:00"], category: .medication))
        let evening = try await r.add(reminder: daily(["18:00"], category: .journaling))
        let afterSession = try await r.add(reminder: NewReminder(
            category: .postSession, schedule: .afterEvent(event: "infusion", steps: [.after(minutes: 180)]),
            start: localDay("2026-01-01"), quiet: .ignore))
        let older = try await r.recordEvent(kind: "infusion", at: now.shifted(-2 * hour), zone: zone)
        let newer = try await r.recordEvent(kind: "infusion", at: now.shifted(-hour), zone: zone)
        return Fixture(
            path: p, journal: journal, reminders: r, early: early, noon: noon, evening: evening,
            afterSession: afterSession, older: older, newer: newer)
    }

    /// The fire times the plan should hold per rule over the two-day horizon.
    func expectedFires(_ f: Fixture, rules: [Reminder], quietHours: Bool, events: [ReminderEvent]) -> [ReminderId: [Date]] {
        let days = [utc("2026-05-04T00:00"), utc("2026-05-05T00:00")]
        var out: [ReminderId: [Date]] = [:]
        for rule in rules {
            switch rule.id {
            case f.early.id: out[rule.id] = days.map { $0.shifted(quietHours ? 7 * hour : 6 * hour + 30 * minute) }
            case f.noon.id: out[rule.id] = days.map { $0.shifted(12 * hour) }
            case f.evening.id: out[rule.id] = days.map { $0.shifted(18 * hour) }
            case f.afterSession.id: out[rule.id] = events.map { $0.at.shifted(3 * hour) }
            default: XCTFail("unknown rule")
            }
        }
        return out
    }

    func fires(_ plan: ReminderPlan) -> [ReminderId: [Date]] {
        Dictionary(grouping: plan.notifications, by: \.reminderId).mapValues { $0.map(\.fireAt).sorted() }
    }

    func plan(_ f: Fixture) async throws -> ReminderPlan {
        try await f.reminders.plan(now: now, deviceZone: zone, limits: iosLimits(), horizonDays: horizon)
    }

    func adherence(_ f: Fixture) async throws -> AdherenceReport {
        try await f.reminders.adherence(from: now.shifted(-3 * day), to: now, now: now, deviceZone: zone)
    }

    /// CairnKit's applier, with the fake notification center of
    /// ReminderPlanApplierTests: schedules exactly `plan` and hands on its
    /// `corrupted`.
    func assertApplierSchedules(
        _ f: Fixture, _ plan: ReminderPlan, goodRules: [Reminder], corrupted: [RecordRef], _ how: String,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let scheduler = FakeScheduler(foreign: ["app.other"])
        let date = now
        let zone = zone
        let applier = NotificationPlanApplier(
            reminders: f.reminders, scheduler: scheduler,
            differ: ReminderPlanDiffer(limits: iosLimits(), horizonDays: horizon),
            deviceZone: { zone }, clock: { date })
        let changes = try await applier.apply()
        XCTAssertEqual(changes.corrupted, corrupted, how, file: file, line: line)
        XCTAssertEqual(changes.planned, plan.notifications.count, how, file: file, line: line)
        XCTAssertEqual(changes.add.map(\.identifier), plan.notifications.map(\.id), how, file: file, line: line)
        XCTAssertEqual(scheduler.pendingIds, Set(plan.notifications.map(\.id) + ["app.other"]), how, file: file, line: line)
        let scheduled = scheduler.state.current.scheduled.values
        XCTAssertEqual(Set(scheduled.map(\.info.reminderId)), Set(goodRules.map(\.id)), how, file: file, line: line)
        XCTAssertEqual(Set(scheduled.map(\.fireDate)), Set(plan.notifications.map(\.fireAt)), how, file: file, line: line)
    }

    /// The control: nothing damaged, nothing named, everything planned.
    func testAnUndamagedJournalNamesNothing() async throws {
        let f = try await fixture("sound")
        let plan = try await plan(f)
        XCTAssertEqual(plan.corrupted, [])
        XCTAssertEqual(fires(plan), expectedFires(f, rules: f.rules, quietHours: true, events: [f.older, f.newer]))
        let list = try await f.reminders.list()
        XCTAssertEqual(list, ReminderList(reminders: f.rules, corrupted: []))
        let adherence = try await adherence(f)
        XCTAssertEqual(adherence.corrupted, [])
        try await assertApplierSchedules(f, plan, goodRules: f.rules, corrupted: [], "sound")
    }

    func testADamagedRuleIsSkippedAndNamedAndEveryGoodRuleIsPlanned() async throws {
        for how in tamperings {
            let f = try await fixture("rule-\(how)")
            try tamper(f.path, "reminders", f.noon.id.value, how)
            let bad = RecordRef(table: "reminders", id: f.noon.id.value)
            let good = [f.early, f.evening, f.afterSession]

            let plan = try await plan(f)
            XCTAssertEqual(plan.corrupted, [bad], how)
            XCTAssertEqual(fires(plan), expectedFires(f, rules: good, quietHours: true, events: [f.older, f.newer]), how)

            let list = try await f.reminders.list()
            XCTAssertEqual(list.reminders, good, how)
            XCTAssertEqual(list.corrupted, [bad], how)
            let error = await assertThrows(.corrupted, how) { try await f.reminders.get(id: f.noon.id) }
            XCTAssertEqual(error, .corrupted(table: "reminders", id: f.noon.id.value), how)
            let early = try await f.reminders.get(id: f.early.id)
            XCTAssertEqual(early, f.early, how)

            let adherence = try await adherence(f)
            XCTAssertEqual(adherence.corrupted, [bad], how)
            XCTAssertEqual(adherence.rules.map(\.key), good.map(\.id.value), how)
            XCTAssertEqual(adherence.rules.map(\.due), [3, 3, 0], how)  // three days back; the sessions' steps are ahead
            XCTAssertEqual(adherence.categories.map(\.key).sorted(), ["check_in", "journaling", "post_session"], how)

            let occurrences = try await f.reminders.occurrences(from: now, to: now.shifted(Double(horizon) * day), deviceZone: zone)
            XCTAssertEqual(Set(occurrences.map(\.reminderId)), Set(good.map(\.id)), how)

            try await assertApplierSchedules(f, plan, goodRules: good, corrupted: [bad], how)
        }
    }

    func testADamagedEventIsSkippedAndNamedAndEveryRuleIsPlanned() async throws {
        for how in tamperings {
            let f = try await fixture("event-\(how)")
            try tamper(f.path, "reminder_events", f.older.id.value, how)
            let bad = RecordRef(table: "reminder_events", id: f.older.id.value)

            let plan = try await plan(f)
            XCTAssertEqual(plan.corrupted, [bad], how)
            // The after-event rule still follows the good event, and only it.
            XCTAssertEqual(fires(plan), expectedFires(f, rules: f.rules, quietHours: true, events: [f.newer]), how)
            let steps = plan.notifications.filter { $0.reminderId == f.afterSession.id }
            XCTAssertTrue(steps.allSatisfy {
                $0.occurrence.contains(f.newer.id.value) && !$0.occurrence.contains(f.older.id.value)
            }, how)
            let events = try await f.reminders.events()
            XCTAssertEqual(events, [f.newer], how)

            // The rules themselves are sound: list() reads no events, so it names nothing.
            let list = try await f.reminders.list()
            XCTAssertEqual(list, ReminderList(reminders: f.rules, corrupted: []), how)
            let adherence = try await adherence(f)
            XCTAssertEqual(adherence.corrupted, [bad], how)
            XCTAssertEqual(adherence.rules.map(\.key), f.rules.map(\.id.value), how)

            try await assertApplierSchedules(f, plan, goodRules: f.rules, corrupted: [bad], how)
        }
    }

    func testDamagedQuietHoursAreNamedAndReadAsNoneAndEveryRuleIsPlanned() async throws {
        for how in tamperings {
            let f = try await fixture("settings-\(how)")
            try tamper(f.path, "settings", "quiet_hours", how)
            let bad = RecordRef(table: "settings", id: "quiet_hours")

            let plan = try await plan(f)
            XCTAssertEqual(plan.corrupted, [bad], how)
            // Without readable quiet hours, 06:30 is no longer deferred to 07:00.
            XCTAssertEqual(fires(plan), expectedFires(f, rules: f.rules, quietHours: false, events: [f.older, f.newer]), how)
            let error = await assertThrows(.corrupted, how) { try await f.reminders.quietHours() }
            XCTAssertEqual(error, .corrupted(table: "settings", id: "quiet_hours"), how)

            // Neither reads quiet hours, so neither names them.
            let list = try await f.reminders.list()
            XCTAssertEqual(list, ReminderList(reminders: f.rules, corrupted: []), how)
            let adherence = try await adherence(f)
            XCTAssertEqual(adherence.corrupted, [], how)
            XCTAssertEqual(adherence.rules.map(\.key), f.rules.map(\.id.value), how)

            try await assertApplierSchedules(f, plan, goodRules: f.rules, corrupted: [bad], how)
        }
    }

    func testADamagedEntryThrowsByIdAndIsNamedInListings() async throws {
        for how in tamperings {
            let name = "entries-\(how).cairn"
            let p = path(name)
            let journal = try await makeJournal(name)
            let t = DamageTests.wholeMinute(rightNow())
            let first = try await journal.log(entry: moodEntry(3, at: t.shifted(-3 * hour), note: "first"))
            let second = try await journal.log(entry: moodEntry(5, at: t.shifted(-2 * hour), note: "second"))
            let third = try await journal.log(entry: moodEntry(7, at: t.shifted(-hour), note: "third"))

            try tamper(p, "entries", second.id.value, how)

            let error = await assertThrows(.corrupted, how) { try await journal.entry(id: second.id) }
            guard case let .corrupted(table, id)? = error else { continue }
            XCTAssertEqual(table, "entries", how)
            XCTAssertEqual(id, second.id.value, how)
            let sentence = error?.localizedDescription ?? ""
            XCTAssertTrue(sentence.contains(second.id.value), "\(how): \(sentence)")
            XCTAssertFalse(sentence.contains("second"), "\(how): no patient text in \(sentence)")
            let readFirst = try await journal.entry(id: first.id)
            XCTAssertEqual(readFirst, first, how)
            let readThird = try await journal.entry(id: third.id)
            XCTAssertEqual(readThird, third, how)

            let page = try await journal.entries(query: EntryQuery())
            XCTAssertEqual(page.entries, [first, third], how)
            if how == "set_deleted" {
                // A row flagged deleted leaves the day index: listings skip
                // tombstones unopened, so to them it is a removed row
                // (docs/security.md, "What per-record binding cannot see").
                // Reading by id (above) and re-keying (below) verify it.
                XCTAssertEqual(page.corrupted, [], how)
            } else {
                XCTAssertEqual(page.corrupted, [RecordRef(table: "entries", id: second.id.value)], how)
            }
            let newest = try await journal.entries(query: EntryQuery(limit: 1, newestFirst: true))
            XCTAssertEqual(newest.entries, [third], how)

            // The journal keeps working.
            let fourth = try await journal.log(entry: moodEntry(6, at: t))
            let after = try await journal.entries(query: EntryQuery())
            XCTAssertEqual(after.entries, [first, third, fourth], how)
            let summary = try await journal.summary(query: EntryQuery())
            XCTAssertEqual(summary.first?.count, 3, how)

            // A re-key keeps the damaged record as it was, and names it.
            let report = try await journal.rekey(newKey: try generateKey())
            XCTAssertEqual(report.corrupted, [RecordRef(table: "entries", id: second.id.value)], how)
            await assertThrows(.corrupted, how) { try await journal.entry(id: second.id) }
            let rekeyed = try await journal.entries(query: EntryQuery())
            XCTAssertEqual(rekeyed.entries, [first, third, fourth], how)
        }
    }

    /// What the app can do about damage: delete the damaged rule, set the
    /// quiet hours again. Then nothing is named and every rule is planned.
    func testADamagedRuleCanBeDeletedAndDamagedQuietHoursSetAgain() async throws {
        for how in ["flip_body", "bump_revision"] {
            let f = try await fixture("repair-\(how)")
            try tamper(f.path, "reminders", f.noon.id.value, how)
            try tamper(f.path, "settings", "quiet_hours", how)
            let damaged = try await plan(f)
            XCTAssertEqual(
                Set(damaged.corrupted),
                [RecordRef(table: "reminders", id: f.noon.id.value), RecordRef(table: "settings", id: "quiet_hours")], how)

            try await f.reminders.delete(id: f.noon.id)
            let quiet = QuietHours(start: wallTime("22:00"), end: wallTime("07:00"))
            try await f.reminders.setQuietHours(quiet: quiet)
            let readQuiet = try await f.reminders.quietHours()
            XCTAssertEqual(readQuiet, quiet, how)
            await assertThrows(.notFound, how) { try await f.reminders.get(id: f.noon.id) }
            let good = [f.early, f.evening, f.afterSession]
            let list = try await f.reminders.list()
            XCTAssertEqual(list, ReminderList(reminders: good, corrupted: []), how)
            let plan = try await plan(f)
            XCTAssertEqual(plan.corrupted, [], how)
            XCTAssertEqual(fires(plan), expectedFires(f, rules: good, quietHours: true, events: [f.older, f.newer]), how)
            let adherence = try await adherence(f)
            XCTAssertEqual(adherence.corrupted, [], how)
        }
    }

    /// After the quiet hours' tombstone flag is set without the key,
    /// `setQuietHours` must repair them (the core once left the flag set,
    /// so the new value never read back).
    func testQuietHoursSetAgainAfterAForgedTombstoneReadBack() async throws {
        let f = try await fixture("forged-quiet")
        try tamper(f.path, "settings", "quiet_hours", "set_deleted")
        let quiet = QuietHours(start: wallTime("23:00"), end: wallTime("06:00"))
        try await f.reminders.setQuietHours(quiet: quiet)
        let read = try await f.reminders.quietHours()
        XCTAssertEqual(read, quiet)
        let plan = try await plan(f)
        XCTAssertEqual(plan.corrupted, [])
    }

    /// `date` on a whole minute, so entries a few hours apart never cross
    /// into the next day's bucket differently from one run to the next.
    static func wholeMinute(_ date: Date) -> Date {
        instant(ms: ms(date) / 60_000 * 60_000)
    }
}

/// Every instant the API takes must lie in 1970..2199, ranges in at most
/// 400 days, plan horizons in 1...62 days and limits in 1...500: anything
/// else is `CairnError.invalidInput` naming the argument, nothing is
/// written, and the journal keeps working.
final class BoundsTests: JournalTestCase {
    /// 2200-01-01T00:00Z: the first instant after the supported calendar.
    static let year2200 = instant(ms: 7_258_118_400_000)
    /// The last supported instant.
    static let latest = instant(ms: 7_258_118_399_999)
    /// Instants outside the calendar.
    let outside: [Date] = [.distantPast, instant(ms: -1), year2200, .distantFuture]
    let now = utc("2026-05-04T00:00")

    struct Setup {
        let journal: Journal
        let reminders: Reminders
        let rule: Reminder
        let occurrence: PlannedNotification
        let entries: [Entry]
    }

    func setup() async throws -> Setup {
        let journal = try await makeJournal()
        let r = try journal.reminders()
        let rule = try await r.add(reminder: daily(["08:00"]))
        _ = try await r.recordEvent(kind: "infusion", at: now, zone: utcZone)
        let plan = try await r.plan(now: now, deviceZone: utcZone, limits: iosLimits(), horizonDays: 1)
        let occurrence = try XCTUnwrap(plan.notifications.first)
        let entry = try await journal.log(entry: moodEntry(5, at: rightNow().shifted(-hour)))
        return Setup(journal: journal, reminders: r, rule: rule, occurrence: occurrence, entries: [entry])
    }

    /// Nothing was written by the refused calls, and every kind of call still works.
    func assertStillWorks(_ s: Setup, pending: Int64, file: StaticString = #filePath, line: UInt = #line) async throws {
        let changes = try await s.journal.pendingChanges()
        XCTAssertEqual(changes, pending, "a refused call wrote something", file: file, line: line)
        let page = try await s.journal.entries(query: EntryQuery())
        XCTAssertEqual(page.entries, s.entries, file: file, line: line)
        let list = try await s.reminders.list()
        XCTAssertEqual(list, ReminderList(reminders: [s.rule], corrupted: []), file: file, line: line)
        let events = try await s.reminders.events()
        XCTAssertEqual(events.count, 1, file: file, line: line)
        let plan = try await s.reminders.plan(now: now, deviceZone: utcZone, limits: iosLimits(), horizonDays: 1)
        XCTAssertEqual(plan.notifications.first, s.occurrence, file: file, line: line)
        try await s.reminders.report(
            occurrence: s.occurrence.occurrence, due: s.occurrence.due, report: .shown(at: s.occurrence.fireAt))
        _ = try await s.journal.log(entry: moodEntry(6))
        let sound = try await s.journal.integrityCheck()
        XCTAssertTrue(sound, file: file, line: line)
    }

    func testLogAndRecordEventRefuseInstantsOutside1970To2199() async throws {
        let s = try await setup()
        let pending = try await s.journal.pendingChanges()
        for at in outside {
            await assertInvalid("at", "log at \(at)") { try await s.journal.log(entry: moodEntry(5, at: at)) }
            await assertInvalid("at", "update at \(at)") {
                try await s.journal.updateEntry(id: s.entries[0].id, entry: moodEntry(5, at: at))
            }
            await assertInvalid("at", "event at \(at)") { try await s.reminders.recordEvent(kind: "infusion", at: at, zone: utcZone) }
        }
        try await assertStillWorks(s, pending: pending)
        // The edges themselves are in the calendar.
        let epoch = try await s.journal.log(entry: moodEntry(5, at: instant(ms: 0)))
        XCTAssertEqual(epoch.at, instant(ms: 0))
        let last = try await s.reminders.recordEvent(kind: "infusion", at: Self.latest, zone: utcZone)
        XCTAssertEqual(last.at, Self.latest)
    }

    func testReportRefusesInstantsOutside1970To2199() async throws {
        let s = try await setup()
        let pending = try await s.journal.pendingChanges()
        let key = s.occurrence.occurrence
        let due = s.occurrence.due
        for at in outside {
            await assertInvalid("due", "due \(at)") { try await s.reminders.report(occurrence: key, due: at, report: .shown(at: due)) }
            await assertInvalid("at", "shown \(at)") { try await s.reminders.report(occurrence: key, due: due, report: .shown(at: at)) }
            await assertInvalid("at", "done \(at)") { try await s.reminders.report(occurrence: key, due: due, report: .done(at: at)) }
            await assertInvalid("at", "skipped \(at)") { try await s.reminders.report(occurrence: key, due: due, report: .skipped(at: at)) }
            await assertInvalid("until", "snoozed \(at)") {
                try await s.reminders.report(occurrence: key, due: due, report: .snoozed(until: at))
            }
        }
        try await assertStillWorks(s, pending: pending)
    }

    func testPlanRefusesInstantsHorizonsLimitsAndWindowsOutOfRange() async throws {
        let s = try await setup()
        let pending = try await s.journal.pendingChanges()
        let ios = iosLimits()
        let reminders = s.reminders
        @Sendable func plan(_ now: Date, _ limits: PlatformLimits, _ horizon: Int32) async throws -> ReminderPlan {
            try await reminders.plan(now: now, deviceZone: utcZone, limits: limits, horizonDays: horizon)
        }
        func limits(_ maxPending: Int32, window: Int32 = 10) -> PlatformLimits {
            PlatformLimits(maxPending: maxPending, exactAlarms: false, inexactWindowMinutes: window)
        }
        for at in outside {
            await assertInvalid("now", "now \(at)") { try await plan(at, ios, 7) }
        }
        for horizon: Int32 in [0, 63, .max, -1, .min] {
            await assertInvalid("horizonDays", "horizon \(horizon)") { try await plan(now, ios, horizon) }
        }
        for maxPending: Int32 in [0, 501, .max] {
            await assertThrows(.invalidInput, "limit \(maxPending)") { try await plan(now, limits(maxPending), 7) }
        }
        for maxPending: Int32 in [-1, .min] {
            await assertInvalid("maxPending", "limit \(maxPending)") { try await plan(now, limits(maxPending), 7) }
        }
        for window: Int32 in [1441, .max] {
            await assertThrows(.invalidInput, "window \(window)") { try await plan(now, limits(64, window: window), 7) }
        }
        try await assertStillWorks(s, pending: pending)

        // The limits themselves are accepted.
        let counts = [
            try await plan(now, ios, 1).notifications.count,
            try await plan(now, ios, 62).notifications.count,
            try await plan(now, limits(1), 7).notifications.count,
            try await plan(now, limits(500), 7).notifications.count,
            try await plan(now, limits(64, window: 1440), 7).notifications.count,
        ]
        XCTAssertEqual(counts, [1, 62, 1, 7, 7])
        _ = try await plan(instant(ms: 0), ios, 1)
        _ = try await plan(Self.latest, ios, 1)
    }

    func testOccurrencesRefuseInstantsOutside1970To2199AndRangesOver400Days() async throws {
        let s = try await setup()
        let pending = try await s.journal.pendingChanges()
        let reminders = s.reminders
        @Sendable func occurrences(_ from: Date, _ to: Date) async throws -> [Occurrence] {
            try await reminders.occurrences(from: from, to: to, deviceZone: utcZone)
        }
        for at in outside {
            await assertThrows(.invalidInput, "from \(at)") { try await occurrences(at, now) }
            await assertInvalid("to", "to \(at)") { try await occurrences(now, at) }
            await assertThrows(.invalidInput, "both \(at)") { try await occurrences(at, at) }
        }
        await assertThrows(.invalidInput, "401 days") { try await occurrences(now, now.shifted(401 * day)) }
        await assertThrows(.invalidInput, "400 days and 1 ms") { try await occurrences(now, now.shifted(400 * day + 0.001)) }
        await assertThrows(.invalidInput, "to before from") { try await occurrences(now, now.shifted(-0.001)) }
        try await assertStillWorks(s, pending: pending)

        let year = try await occurrences(now, now.shifted(400 * day))
        XCTAssertEqual(year.count, 400)
        _ = try await occurrences(instant(ms: 0), instant(ms: 0).shifted(400 * day))
        _ = try await occurrences(Self.latest.shifted(-400 * day), Self.latest)
    }

    func testAdherenceRefusesInstantsOutside1970To2199AndRangesOver400Days() async throws {
        let s = try await setup()
        let pending = try await s.journal.pendingChanges()
        let from = now.shifted(-7 * day)
        let reminders = s.reminders
        @Sendable func adherence(_ from: Date, _ to: Date, _ now: Date) async throws -> AdherenceReport {
            try await reminders.adherence(from: from, to: to, now: now, deviceZone: utcZone)
        }
        for at in outside {
            // (A `from` after `to` is named as `to` "before from".)
            await assertThrows(.invalidInput, "from \(at)") { try await adherence(at, now, now) }
            await assertInvalid("now", "now \(at)") { try await adherence(from, now, at) }
        }
        // `to` far outside the calendar (the bindings' own conversion); just
        // outside is in testAdherenceRefusesAnEndJustOutsideTheCalendar.
        for at: Date in [.distantPast, .distantFuture] {
            await assertInvalid("to", "to \(at)") { try await adherence(from, at, now) }
        }
        await assertThrows(.invalidInput, "401 days") { try await adherence(now.shifted(-401 * day), now, now) }
        try await assertStillWorks(s, pending: pending)

        let week = try await adherence(from, now, now)
        XCTAssertEqual(week.rules.map(\.due), [7])
        let long = try await adherence(now.shifted(-400 * day), now, now)
        XCTAssertEqual(long.rules.map(\.due), [123])  // the rule starts 2026-01-01
    }

    /// `adherence` once clamped `to` to `now` before it checked the
    /// calendar, so an end in 1969 or 2200-01-01 returned a report instead
    /// of `invalidInput`.
    func testAdherenceRefusesAnEndJustOutsideTheCalendar() async throws {
        let s = try await setup()
        let from = now.shifted(-7 * day)
        let reminders = s.reminders
        let now = now
        @Sendable func adherence(_ to: Date) async throws -> AdherenceReport {
            try await reminders.adherence(from: from, to: to, now: now, deviceZone: utcZone)
        }
        for to in [instant(ms: -1), Self.year2200] {
            await assertInvalid("to", "to \(to)") { try await adherence(to) }
        }
    }
}

