import Cairn
import Foundation
import XCTest

// MARK: - helpers

func daily(
    _ times: [String], zone: TimeZone? = nil, start: String = "2026-01-01", category: ReminderCategory = .checkIn,
    title: String? = nil, showTitle: Bool = false, quiet: QuietPolicy? = nil, count: Int32? = nil,
    end: String? = nil, enabled: Bool = true
) -> NewReminder {
    NewReminder(
        category: category, schedule: .daily(times: times.map(wallTime)), start: localDay(start), zone: zone,
        end: end.map(localDay), count: count, title: title, showTitle: showTitle, quiet: quiet, enabled: enabled)
}

/// A rule of `schedule` starting 2026-01-01 (or `start`).
func rule(_ schedule: ReminderSchedule, _ category: ReminderCategory = .checkIn, start: String = "2026-01-01") -> NewReminder {
    NewReminder(category: category, schedule: schedule, start: localDay(start))
}

func isHexId(_ s: String) -> Bool {
    s.count == 32 && s.allSatisfy { "0123456789abcdef".contains($0) }
}

/// Tests of `Journal.reminders()` and every `Reminders` method and reminder
/// free function, on real journals.
final class ReminderTests: JournalTestCase {
    func makeReminders() async throws -> Reminders {
        try await makeJournal().reminders()
    }

    // MARK: rules

    func testAddGetListUpdateDelete() async throws {
        let r = try await makeReminders()
        let empty = try await r.list()
        XCTAssertEqual(empty.reminders, [])
        let a = try await r.add(reminder: daily(["20:00", "08:00", "08:00"], title: "Mood before bed"))
        XCTAssertTrue(isHexId(a.id.value), a.id.value)
        XCTAssertEqual(a.revision, 1)
        XCTAssertEqual(a.schedule, .daily(times: [wallTime("08:00"), wallTime("20:00")]))  // sorted, de-duplicated
        XCTAssertEqual(a.category, .checkIn)
        XCTAssertEqual(a.start, localDay("2026-01-01"))
        XCTAssertNil(a.zone)  // follows the device
        XCTAssertNil(a.end)
        XCTAssertNil(a.count)
        XCTAssertEqual(a.title, "Mood before bed")
        XCTAssertFalse(a.showTitle)
        XCTAssertEqual(a.quiet, .defer)  // the default
        XCTAssertEqual(a.graceMinutes, 60)
        XCTAssertTrue(a.enabled)
        var got = try await r.get(id: a.id)
        XCTAssertEqual(got, a)

        let b = try await r.add(reminder: NewReminder(
            category: .medication, schedule: .daily(times: [wallTime("09:00")]), start: localDay("2026-02-01"),
            zone: paris, end: localDay("2026-12-31"), count: 10, title: nil, showTitle: true,
            quiet: .ignore, graceMinutes: 30, enabled: false))
        XCTAssertEqual(b.zone, paris)
        XCTAssertEqual(b.end, localDay("2026-12-31"))
        XCTAssertEqual(b.count, 10)
        XCTAssertEqual(b.quiet, .ignore)
        XCTAssertEqual(b.graceMinutes, 30)
        XCTAssertFalse(b.enabled)
        var list = try await r.list()
        XCTAssertEqual(list.reminders, [a, b])  // in the order they were added

        let a2 = try await r.update(id: a.id, reminder: daily(["07:15"], zone: tokyo, category: .journaling))
        XCTAssertEqual(a2.id, a.id)
        XCTAssertEqual(a2.revision, 2)
        XCTAssertEqual(a2.schedule, .daily(times: [wallTime("07:15")]))
        XCTAssertEqual(a2.zone, tokyo)
        XCTAssertEqual(a2.category, .journaling)
        XCTAssertNil(a2.title)
        got = try await r.get(id: a.id)
        XCTAssertEqual(got, a2)

        try await r.delete(id: a.id)
        await assertThrows(.notFound) { try await r.get(id: a.id) }
        await assertThrows(.notFound) { try await r.delete(id: a.id) }
        await assertThrows(.notFound) { try await r.update(id: a.id, reminder: daily(["08:00"])) }
        list = try await r.list()
        XCTAssertEqual(list.reminders, [b])

        // Malformed ids are invalidInput; well-formed unknown ones notFound.
        for text in ["", "nope", a.id.value.uppercased(), a.id.value + "0", String(repeating: "z", count: 32)] {
            let bad = ReminderId(text)
            await assertThrows(.invalidInput, text) { try await r.get(id: bad) }
            await assertThrows(.invalidInput, text) { try await r.delete(id: bad) }
            await assertThrows(.invalidInput, text) { try await r.update(id: bad, reminder: daily(["08:00"])) }
        }
        await assertThrows(.notFound) { try await r.get(id: ReminderId(String(repeating: "0", count: 32))) }
    }

    func testRulesPersistAcrossReopening() async throws {
        let journal = try await Journal.create(path: path(), key: key, zones: nil)
        let rule = try await journal.reminders().add(reminder: daily(["09:00"], title: "t"))
        let quiet = QuietHours(start: wallTime("22:00"), end: wallTime("07:00"))
        try await journal.reminders().setQuietHours(quiet: quiet)
        let event = try await journal.reminders().recordEvent(kind: "infusion", at: utc("2026-03-10T10:00"), zone: utcZone)
        try await journal.close()

        let reopened = try await Journal.open(path: path(), key: key)
        closeAtTearDown(reopened)
        let r = try reopened.reminders()
        let list = try await r.list()
        XCTAssertEqual(list.reminders, [rule])
        let readQuiet = try await r.quietHours()
        XCTAssertEqual(readQuiet, quiet)
        let events = try await r.events()
        XCTAssertEqual(events, [event])
    }

    func testEveryScheduleRoundTrips() async throws {
        let r = try await makeReminders()
        let t = wallTime
        let schedules: [ReminderSchedule] = [
            .daily(times: [t("08:00"), t("12:30")]),
            .weekly(days: [.monday, .wednesday, .friday], times: [t("10:00")]),
            .everyNDays(n: 3, times: [t("21:45")]),
            .monthDay(day: 31, times: [t("09:00")]),
            .once(date: localDay("2026-06-05"), time: t("12:00")),
            .window(from: t("10:00"), to: t("12:00"), days: []),
            .window(from: t("18:00"), to: t("18:30"), days: [.saturday, .sunday]),
            .afterEvent(event: "infusion", steps: [.after(minutes: 120), .dayAt(day: 1, time: t("09:00"))]),
        ]
        for s in schedules {
            let added = try await r.add(reminder: rule(s, .copingStep, start: "2026-06-01"))
            XCTAssertEqual(added.schedule, s, "\(s)")
            let got = try await r.get(id: added.id)
            XCTAssertEqual(got.schedule, s)
        }
        // Weekdays and times are normalised; a one-off starts on its date.
        let w = try await r.add(reminder: rule(
            .weekly(days: [.friday, .monday, .friday], times: [t("10:00"), t("09:00")]), start: "2026-06-01"))
        XCTAssertEqual(w.schedule, .weekly(days: [.monday, .friday], times: [t("09:00"), t("10:00")]))
        let once = try await r.add(reminder: rule(
            .once(date: localDay("2026-07-04"), time: t("15:00")), .appointment, start: "2026-06-01"))
        XCTAssertEqual(once.start, localDay("2026-07-04"))
        let list = try await r.list()
        XCTAssertEqual(list.reminders.count, schedules.count + 2)
    }

    // MARK: occurrences

    func testOccurrencesOfEachSchedule() async throws {
        let r = try await makeReminders()
        let t = wallTime
        func fires(_ s: ReminderSchedule, start: String = "2026-06-01", count: Int32? = nil, end: String? = nil,
                   from: String = "2026-06-01T00:00", to: String = "2026-06-15T00:00") async throws -> [Occurrence] {
            let added = try await r.add(reminder: NewReminder(
                category: .checkIn, schedule: s, start: localDay(start), zone: utcZone, end: end.map(localDay), count: count))
            let all = try await r.occurrences(from: utc(from), to: utc(to), deviceZone: utcZone)
            try await r.delete(id: added.id)
            XCTAssertTrue(all.allSatisfy { $0.reminderId == added.id && $0.key.hasPrefix(added.id.value + ":") })
            XCTAssertEqual(all.map(\.fireAt), all.map(\.fireAt).sorted())
            return all
        }
        // 2026-06-01 is a Monday.
        var found = try await fires(.weekly(days: [.monday, .wednesday], times: [t("10:00")])).map(\.fireAt)
        XCTAssertEqual(found, ["2026-06-01", "2026-06-03", "2026-06-08", "2026-06-10"].map { utc($0 + "T10:00") })
        found = try await fires(.everyNDays(n: 3, times: [t("07:00")])).map(\.fireAt)
        XCTAssertEqual(found, ["01", "04", "07", "10", "13"].map { utc("2026-06-\($0)T07:00") })
        // The 31st falls back to the month's last day.
        found = try await fires(
            .monthDay(day: 31, times: [t("09:00")]), start: "2026-04-01", from: "2026-04-01T00:00", to: "2026-07-01T00:00"
        ).map(\.fireAt)
        XCTAssertEqual(found, ["2026-04-30", "2026-05-31", "2026-06-30"].map { utc($0 + "T09:00") })
        let once = try await fires(.once(date: localDay("2026-06-05"), time: t("12:00")))
        XCTAssertEqual(once.map(\.fireAt), [utc("2026-06-05T12:00")])
        XCTAssertEqual(once.first?.key.split(separator: ":").dropFirst().joined(separator: ":"), "2026-06-05:0")

        // A window fires once a day at a whole minute in [from, to).
        let windowRule = try await r.add(reminder: NewReminder(
            category: .checkIn, schedule: .window(from: t("10:00"), to: t("12:00"), days: []),
            start: localDay("2026-06-01"), zone: utcZone))
        let window = try await r.occurrences(from: utc("2026-06-01T00:00"), to: utc("2026-06-15T00:00"), deviceZone: utcZone)
        XCTAssertEqual(window.count, 14)
        for (i, o) in window.enumerated() {
            let day0 = utc("2026-06-01T00:00").shifted(Double(i) * day)
            XCTAssertGreaterThanOrEqual(o.fireAt, day0.shifted(10 * hour))
            XCTAssertLessThan(o.fireAt, day0.shifted(12 * hour))
            XCTAssertEqual(ms(o.fireAt) % 60_000, 0)
        }
        XCTAssertGreaterThan(Set(window.map { ms($0.fireAt) % 86_400_000 }).count, 1, "not the same minute every day")
        let again = try await r.occurrences(from: utc("2026-06-01T00:00"), to: utc("2026-06-15T00:00"), deviceZone: utcZone)
        XCTAssertEqual(again, window, "reproducible")
        try await r.delete(id: windowRule.id)

        // A count limits the rule's occurrences from its start; an end date is inclusive.
        var count = try await fires(.daily(times: [t("08:00"), t("20:00")]), count: 3).count
        XCTAssertEqual(count, 3)
        count = try await fires(.daily(times: [t("08:00")]), end: "2026-06-04").count
        XCTAssertEqual(count, 4)
        count = try await fires(.daily(times: [t("08:00")]), count: 3, from: "2026-06-03T00:00").count
        XCTAssertEqual(count, 1)

        // Paused rules have no occurrences.
        let paused = try await r.add(reminder: daily(["08:00"], zone: utcZone, enabled: false))
        let none = try await r.occurrences(from: utc("2026-06-01T00:00"), to: utc("2026-06-15T00:00"), deviceZone: utcZone)
        XCTAssertEqual(none, [])
        let plan = try await r.plan(now: utc("2026-06-01T00:00"), deviceZone: utcZone, limits: iosLimits(), horizonDays: 7)
        XCTAssertEqual(plan.notifications, [])
        try await r.delete(id: paused.id)
    }

    // MARK: time semantics

    /// 02:30 does not exist in New York on 2026-03-08: it fires at 03:30 EDT.
    func testSpringForwardGapShiftsForward() async throws {
        let r = try await makeReminders()
        let added = try await r.add(reminder: daily(["02:30"], zone: zone("America/New_York"), start: "2026-03-06"))
        let occ = try await r.occurrences(from: utc("2026-03-07T00:00"), to: utc("2026-03-10T00:00"), deviceZone: paris)
        XCTAssertEqual(occ.map(\.key), ["2026-03-07", "2026-03-08", "2026-03-09"].map { "\(added.id):\($0):0" })
        XCTAssertEqual(occ.map(\.fireAt), [utc("2026-03-07T07:30"), utc("2026-03-08T07:30"), utc("2026-03-09T06:30")])
        XCTAssertEqual(occ.map(\.utcOffsetSeconds), [-5 * 3600, -4 * 3600, -4 * 3600] as [Int32])
        XCTAssertEqual(occ.map { wallClock($0.fireAt, offsetSeconds: $0.utcOffsetSeconds) }, ["02:30", "03:30", "02:30"])

        let plan = try await r.plan(now: utc("2026-03-08T00:00"), deviceZone: paris, limits: iosLimits(), horizonDays: 1).notifications
        XCTAssertEqual(plan.count, 1)
        XCTAssertEqual(plan.first?.fireAt, utc("2026-03-08T07:30"))  // 03:30 EDT
        XCTAssertEqual(plan.first?.due, utc("2026-03-08T07:30"))
        XCTAssertEqual(plan.first?.utcOffsetSeconds, -4 * 3600)
        XCTAssertEqual(plan.first?.occurrence, "\(added.id):2026-03-08:0")
    }

    /// 01:30 happens twice in New York on 2026-11-01: it fires once, at 01:30 EDT.
    func testFallBackOverlapFiresOnceAtTheFirst() async throws {
        let r = try await makeReminders()
        let added = try await r.add(reminder: daily(["01:30"], zone: zone("America/New_York"), start: "2026-10-01"))
        let occ = try await r.occurrences(from: utc("2026-10-31T00:00"), to: utc("2026-11-03T00:00"), deviceZone: utcZone)
        XCTAssertEqual(occ.map(\.key), ["2026-10-31", "2026-11-01", "2026-11-02"].map { "\(added.id):\($0):0" })
        XCTAssertEqual(occ.map(\.fireAt), [utc("2026-10-31T05:30"), utc("2026-11-01T05:30"), utc("2026-11-02T06:30")])
        XCTAssertEqual(occ.map(\.utcOffsetSeconds), [-4 * 3600, -4 * 3600, -5 * 3600] as [Int32])
        XCTAssertFalse(occ.contains { $0.fireAt == utc("2026-11-01T06:30") }, "not again at 01:30 EST")
        XCTAssertTrue(occ.allSatisfy { wallClock($0.fireAt, offsetSeconds: $0.utcOffsetSeconds) == "01:30" })

        let plan = try await r.plan(now: utc("2026-11-01T00:00"), deviceZone: utcZone, limits: iosLimits(), horizonDays: 1).notifications
        XCTAssertEqual(plan.filter { $0.occurrence.contains(":2026-11-01:") }.map(\.fireAt), [utc("2026-11-01T05:30")])
    }

    /// A rule following the device fires at 09:00 wherever the device is; a
    /// rule pinned to Chicago fires at 09:00 in Chicago, 15:00 in Lisbon.
    func testFollowDeviceKeepsTheWallClockAndPinnedKeepsTheInstant() async throws {
        let r = try await makeReminders()
        let follow = try await r.add(reminder: daily(["09:00"], start: "2026-07-01"))
        let pinned = try await r.add(reminder: daily(["09:00"], zone: zone("America/Chicago"), start: "2026-07-01"))
        let from = utc("2026-07-15T00:00"), to = utc("2026-07-16T00:00")

        for (name, followUtc) in [("America/Chicago", "2026-07-15T14:00"), ("Europe/Lisbon", "2026-07-15T08:00")] {
            let device = zone(name)
            let occ = try await r.occurrences(from: from, to: to, deviceZone: device)
            let f = try XCTUnwrap(occ.first { $0.reminderId == follow.id }, name)
            let p = try XCTUnwrap(occ.first { $0.reminderId == pinned.id }, name)
            XCTAssertEqual(f.fireAt, utc(followUtc), name)
            XCTAssertEqual(wallClock(f.fireAt, offsetSeconds: f.utcOffsetSeconds), "09:00", name)
            XCTAssertEqual(p.fireAt, utc("2026-07-15T14:00"), name)  // 09:00 CDT either way
            XCTAssertEqual(p.utcOffsetSeconds, -5 * 3600, name)

            let deviceOffset = Int32(device.secondsFromGMT(for: p.fireAt))
            XCTAssertEqual(wallClock(f.fireAt, offsetSeconds: deviceOffset), "09:00", name)
            XCTAssertEqual(wallClock(p.fireAt, offsetSeconds: deviceOffset), name == "Europe/Lisbon" ? "15:00" : "09:00", name)

            let plan = try await r.plan(now: from, deviceZone: device, limits: iosLimits(), horizonDays: 1).notifications
            XCTAssertEqual(plan.first { $0.reminderId == follow.id }?.fireAt, utc(followUtc), name)
            XCTAssertEqual(plan.first { $0.reminderId == pinned.id }?.fireAt, utc("2026-07-15T14:00"), name)
        }
    }

    // MARK: the plan

    func testPlatformLimits() {
        let ios = iosLimits()
        XCTAssertEqual(ios.maxPending, 64)
        XCTAssertTrue(ios.exactAlarms)
        let exact = androidLimits(exactAlarmsAllowed: true)
        XCTAssertTrue(exact.exactAlarms)
        XCTAssertGreaterThan(exact.maxPending, 64)
        let inexact = androidLimits(exactAlarmsAllowed: false)
        XCTAssertFalse(inexact.exactAlarms)
        XCTAssertGreaterThanOrEqual(inexact.inexactWindowMinutes, 10)
        XCTAssertGreaterThan(inexact.maxPending, 64)
    }

    /// 50 rules × 3 a day, with iOS's 64: every rule's next reminder first,
    /// then the next ones, returned in time order, with generic text.
    func testIosPlanKeeps64FairlyInTimeOrderWithGenericText() async throws {
        let r = try await makeReminders()
        let categories: [ReminderCategory] = [.checkIn, .medication, .journaling, .copingStep, .postSession, .appointment]
        var rules: [Reminder] = []
        for i in 0..<50 {
            rules.append(try await r.add(reminder: daily(
                ["08:00", "12:30", "19:00"], start: "2026-05-01", category: categories[i % categories.count],
                title: i == 7 ? nil : "Secret \(i)", showTitle: i % 10 == 0 || i == 7)))
        }
        let now = utc("2026-05-04T00:00")
        let plan = try await r.plan(now: now, deviceZone: paris, limits: iosLimits(), horizonDays: 7).notifications
        XCTAssertEqual(plan.count, 64)
        XCTAssertEqual(Set(plan.map(\.reminderId)), Set(rules.map(\.id)), "every rule is present")
        XCTAssertEqual(plan.map(\.fireAt), plan.map(\.fireAt).sorted(), "in time order")
        XCTAssertEqual(Set(plan.map(\.id)).count, 64, "ids are unique")
        XCTAssertTrue(plan.allSatisfy { $0.id.hasPrefix(notificationIdPrefix()) })
        // Paris is UTC+2 in May: 08:00 is 06:00Z, 12:30 is 10:30Z.
        XCTAssertEqual(plan.filter { $0.fireAt == utc("2026-05-04T06:00") }.count, 50)
        XCTAssertEqual(plan.filter { $0.fireAt == utc("2026-05-04T10:30") }.count, 14)
        XCTAssertTrue(plan.allSatisfy { $0.exact && $0.due == $0.fireAt && $0.fireAt >= now })

        var genericTitles: [ReminderCategory: String] = [:]
        for n in plan {
            let i = rules.firstIndex { $0.id == n.reminderId }!
            XCTAssertEqual(n.category, rules[i].category)
            XCTAssertFalse(n.body.contains("Secret"), n.body)
            XCTAssertFalse(n.body.isEmpty)
            if i % 10 == 0 {
                XCTAssertEqual(n.title, "Secret \(i)", "the patient chose to show it")
            } else {
                XCTAssertFalse(n.title.contains("Secret"), n.title)
                XCTAssertFalse(n.title.isEmpty)
                if let seen = genericTitles[n.category] { XCTAssertEqual(n.title, seen) }
                genericTitles[n.category] = n.title
            }
        }
        XCTAssertEqual(genericTitles[.checkIn], "Time for your check-in")
        XCTAssertEqual(genericTitles[.medication], "Reminder")

        // Android's larger limit.
        let androidExact = androidLimits(exactAlarmsAllowed: true)
        let android = try await r.plan(now: now, deviceZone: paris, limits: androidExact, horizonDays: 7).notifications
        XCTAssertEqual(android.count, min(Int(androidExact.maxPending), 50 * 3 * 7))
        let custom = try await r.plan(
            now: now, deviceZone: paris,
            limits: PlatformLimits(maxPending: 5, exactAlarms: true, inexactWindowMinutes: 10), horizonDays: 7).notifications
        XCTAssertEqual(custom.count, 5)
    }

    func testAndroidWithoutExactAlarmsPlansInexactWindows() async throws {
        let r = try await makeReminders()
        _ = try await r.add(reminder: daily(["08:00", "20:00"]))
        let now = utc("2026-05-04T00:00")
        let inexact = try await r.plan(
            now: now, deviceZone: paris, limits: androidLimits(exactAlarmsAllowed: false), horizonDays: 7).notifications
        XCTAssertEqual(inexact.count, 14)
        XCTAssertTrue(inexact.allSatisfy { !$0.exact && $0.windowMinutes >= 10 }, "\(inexact.map(\.windowMinutes))")
        let exact = try await r.plan(
            now: now, deviceZone: paris, limits: androidLimits(exactAlarmsAllowed: true), horizonDays: 7).notifications
        XCTAssertTrue(exact.allSatisfy { $0.exact })
        XCTAssertEqual(exact.map(\.id), inexact.map(\.id), "the same occurrences at the same times")
        // A narrower window than 10 minutes is widened.
        let narrow = try await r.plan(
            now: now, deviceZone: paris,
            limits: PlatformLimits(maxPending: 10, exactAlarms: false, inexactWindowMinutes: 1), horizonDays: 7).notifications
        XCTAssertTrue(narrow.allSatisfy { !$0.exact && $0.windowMinutes >= 10 })
    }

    func testDiffPlan() async throws {
        let r = try await makeReminders()
        let added = try await r.add(reminder: daily(["08:00", "13:00", "20:00"]))
        let now = utc("2026-05-04T00:00")
        func plan(_ at: Date) async throws -> [PlannedNotification] {
            try await r.plan(now: at, deviceZone: utcZone, limits: iosLimits(), horizonDays: 3).notifications
        }
        let p1 = try await plan(now)
        XCTAssertEqual(p1.count, 9)
        let ids1 = p1.map(\.id)

        XCTAssertEqual(try diffPlan(plan: p1, heldIds: []), PlanDiff(add: p1, remove: []))
        XCTAssertEqual(try diffPlan(plan: p1, heldIds: ids1), PlanDiff(add: [], remove: []), "same plan: nothing to do")
        XCTAssertEqual(try diffPlan(plan: p1, heldIds: ids1.reversed()), PlanDiff(add: [], remove: []))
        XCTAssertEqual(try diffPlan(plan: p1, heldIds: ids1 + ["cairn-stale", "cairn-stale"]),
                       PlanDiff(add: [], remove: ["cairn-stale"]))
        XCTAssertEqual(try diffPlan(plan: [], heldIds: []), PlanDiff(add: [], remove: []))

        // A day later: the first day's three have fired, a new day is planned.
        // The same occurrence at the same time keeps its id.
        let p2 = try await plan(now.shifted(day))
        let p2Again = try await plan(now.shifted(day))
        XCTAssertEqual(p2, p2Again)
        let d = try diffPlan(plan: p2, heldIds: ids1)
        XCTAssertEqual(d.remove, Array(ids1.prefix(3)).sorted())
        XCTAssertEqual(d.add, Array(p2.suffix(3)))
        XCTAssertEqual(Array(p1.dropFirst(3)), Array(p2.prefix(6)))

        // Moving the rule moves its occurrences: new ids.
        _ = try await r.update(id: added.id, reminder: daily(["08:05", "13:00", "20:00"]))
        let p3 = try await plan(now)
        let d3 = try diffPlan(plan: p3, heldIds: ids1)
        XCTAssertEqual(d3.remove.count, 3)
        XCTAssertEqual(d3.add.map(\.fireAt).map { wallClock($0, offsetSeconds: 0) }, ["08:05", "08:05", "08:05"])

        // Deleting the rule cancels everything.
        try await r.delete(id: added.id)
        let p4 = try await plan(now)
        XCTAssertEqual(p4, [])
        XCTAssertEqual(try diffPlan(plan: p4, heldIds: ids1), PlanDiff(add: [], remove: ids1.sorted()))
    }

    func testQuietHoursDeferSkipOrIgnore() async throws {
        let r = try await makeReminders()
        var quiet = try await r.quietHours()
        XCTAssertNil(quiet)
        let night = QuietHours(start: wallTime("22:00"), end: wallTime("07:00"))
        try await r.setQuietHours(quiet: night)
        quiet = try await r.quietHours()
        XCTAssertEqual(quiet, night)

        let deferred = try await r.add(reminder: daily(["23:00"], quiet: .defer))
        let skipped = try await r.add(reminder: daily(["23:00"], quiet: .skip))
        let ignored = try await r.add(reminder: daily(["23:00"], quiet: .ignore))
        let byDefault = try await r.add(reminder: daily(["23:00"]))  // defers
        let now = utc("2026-05-04T12:00")
        func plan() async throws -> [PlannedNotification] {
            try await r.plan(now: now, deviceZone: utcZone, limits: iosLimits(), horizonDays: 2).notifications
        }
        var p = try await plan()
        let due = utc("2026-05-04T23:00")
        for rule in [deferred, byDefault] {
            let first = try XCTUnwrap(p.first { $0.reminderId == rule.id })
            XCTAssertEqual(first.due, due)
            XCTAssertEqual(first.fireAt, utc("2026-05-05T07:00"), "moved to the end of the quiet hours")
            XCTAssertTrue(p.filter { $0.reminderId == rule.id }.allSatisfy { wallClock($0.fireAt, offsetSeconds: 0) == "07:00" })
        }
        XCTAssertFalse(p.contains { $0.reminderId == skipped.id })
        XCTAssertEqual(p.first { $0.reminderId == ignored.id }?.fireAt, due)

        // Quiet hours are in the device's zone: in Paris, this rule (which
        // follows the device) is due at 23:00 Paris and deferred to 07:00 Paris.
        let inParis = try await r.plan(now: now, deviceZone: paris, limits: iosLimits(), horizonDays: 2).notifications
        XCTAssertEqual(inParis.first { $0.reminderId == deferred.id }?.fireAt, utc("2026-05-05T05:00"))

        // Deferral never passes the rule's next occurrence: then it is skipped.
        for rule in [deferred, skipped, ignored, byDefault] { try await r.delete(id: rule.id) }
        let twice = try await r.add(reminder: daily(["06:00", "23:00"], quiet: .defer))
        p = try await plan()
        XCTAssertFalse(p.contains { wallClock($0.due, offsetSeconds: 0) == "23:00" }, "23:00 would pass 06:00")
        XCTAssertEqual(p.filter { $0.reminderId == twice.id }.map(\.fireAt), [utc("2026-05-05T07:00"), utc("2026-05-06T07:00")])

        // Cleared, reminders fire on time again.
        try await r.setQuietHours(quiet: nil)
        quiet = try await r.quietHours()
        XCTAssertNil(quiet)
        p = try await plan()
        XCTAssertEqual(p.first?.fireAt, utc("2026-05-04T23:00"))

        await assertInvalid("start") {
            try await r.setQuietHours(quiet: QuietHours(start: DateComponents(hour: 24, minute: 0), end: wallTime("07:00")))
        }
        await assertInvalid("end") { try await r.setQuietHours(quiet: QuietHours(start: wallTime("22:00"), end: DateComponents())) }
        quiet = try await r.quietHours()
        XCTAssertNil(quiet)
    }

    // MARK: lifecycle

    func testReportsThenAdherence() async throws {
        let r = try await makeReminders()
        let added = try await r.add(reminder: daily(["09:00"]))
        func plan() async throws -> [PlannedNotification] {
            try await r.plan(now: utc("2026-01-01T00:00"), deviceZone: utcZone, limits: iosLimits(), horizonDays: 5).notifications
        }
        let n = try await plan()
        XCTAssertEqual(n.map(\.due), (1...5).map { utc("2026-01-0\($0)T09:00") })

        // 0: shown on time, done. 1: shown late, skipped. 2: snoozed.
        // 3: nothing. 4: shown, not answered yet.
        try await r.report(occurrence: n[0].occurrence, due: n[0].due, report: .shown(at: n[0].due.shifted(minute)))
        try await r.report(occurrence: n[0].occurrence, due: n[0].due, report: .done(at: n[0].due.shifted(2 * minute)))
        try await r.report(occurrence: n[1].occurrence, due: n[1].due, report: .shown(at: n[1].due.shifted(10 * minute)))
        try await r.report(occurrence: n[1].occurrence, due: n[1].due, report: .skipped(at: n[1].due.shifted(11 * minute)))
        try await r.report(occurrence: n[2].occurrence, due: n[2].due, report: .snoozed(until: n[2].due.shifted(30 * minute)))
        try await r.report(occurrence: n[4].occurrence, due: n[4].due, report: .shown(at: n[4].due))
        try await r.report(occurrence: n[4].occurrence, due: n[4].due, report: .shown(at: n[4].due.shifted(5 * minute)))  // the earliest counts
        await assertThrows(.invalidInput, "a snooze must end after the due time") {
            try await r.report(occurrence: n[3].occurrence, due: n[3].due, report: .snoozed(until: n[3].due))
        }

        // The next plan drops done and skipped, moves the snoozed one.
        let again = try await plan()
        XCTAssertEqual(again.map(\.occurrence), [n[2], n[3], n[4]].map(\.occurrence))
        XCTAssertEqual(again[0].fireAt, n[2].due.shifted(30 * minute))
        XCTAssertEqual(again[0].due, n[2].due)
        XCTAssertNotEqual(again[0].id, n[2].id, "a moved occurrence gets a new id")
        XCTAssertEqual(Array(again.dropFirst()), [n[3], n[4]])
        let d = try diffPlan(plan: again, heldIds: n.map(\.id))
        XCTAssertEqual(Set(d.remove), Set([n[0].id, n[1].id, n[2].id]))
        XCTAssertEqual(d.add, [again[0]])

        let from = utc("2026-01-01T00:00"), to = utc("2026-01-06T00:00")
        let expected = Adherence(key: added.id.value, due: 5, shown: 3, late: 1, notShown: 2, done: 1, skipped: 1, missed: 2)
        let report = try await r.adherence(from: from, to: to, now: n[4].due.shifted(10 * minute), deviceZone: utcZone)
        XCTAssertEqual(report.rules, [expected])
        let category = Adherence(key: "check_in", due: 5, shown: 3, late: 1, notShown: 2, done: 1, skipped: 1, missed: 2)
        XCTAssertEqual(report.categories, [category])

        // Once its grace period has passed, the last one is missed too.
        let later = try await r.adherence(from: from, to: to, now: n[4].due.shifted(2 * hour), deviceZone: utcZone)
        XCTAssertEqual(later.rules.first?.missed, 3)
        // Only what was due before now counts.
        let early = try await r.adherence(from: from, to: to, now: n[1].due.shifted(minute), deviceZone: utcZone)
        XCTAssertEqual(early.rules.first?.due, 2)
        let empty = try await r.adherence(from: from, to: from, now: to, deviceZone: utcZone)
        XCTAssertEqual(empty.rules.first?.due, 0)
    }

    func testAfterEventRuleFollowsRecordedEvents() async throws {
        let r = try await makeReminders()
        let added = try await r.add(reminder: NewReminder(
            category: .postSession,
            schedule: .afterEvent(event: "infusion", steps: [
                .after(minutes: 120), .dayAt(day: 1, time: wallTime("09:00")), .dayAt(day: 3, time: wallTime("09:00")),
            ]),
            start: localDay("2026-01-01"), zone: paris))
        let at = utc("2026-03-10T10:00")
        var events = try await r.events()
        XCTAssertEqual(events, [])
        func plan() async throws -> [PlannedNotification] {
            try await r.plan(now: at, deviceZone: utcZone, limits: iosLimits(), horizonDays: 7).notifications
        }
        var p = try await plan()
        XCTAssertEqual(p, [], "no event yet")

        let other = try await r.recordEvent(kind: "therapy", at: at.shifted(-day), zone: utcZone)
        let event = try await r.recordEvent(kind: "Infusion", at: at, zone: paris)
        XCTAssertTrue(isHexId(event.id.value))
        XCTAssertEqual(event.kind, "infusion")
        XCTAssertEqual(event.at, at)
        XCTAssertEqual(event.zone, paris)
        events = try await r.events()
        XCTAssertEqual(events, [other, event])  // by time

        let occ = try await r.occurrences(from: at.shifted(-day), to: at.shifted(10 * day), deviceZone: utcZone)
        XCTAssertEqual(occ.map(\.key), (0..<3).map { "\(added.id):e\(event.id):\($0)" })
        // +120 min; then 09:00 Paris (UTC+1 in March) one and three days later.
        XCTAssertEqual(occ.map(\.fireAt), [at.shifted(2 * hour), utc("2026-03-11T08:00"), utc("2026-03-13T08:00")])

        p = try await plan()
        XCTAssertEqual(p.map(\.occurrence), occ.map(\.key))
        XCTAssertTrue(p.allSatisfy { $0.category == .postSession && $0.title == "After your session" })
        try await r.report(occurrence: p[0].occurrence, due: p[0].due, report: .done(at: at.shifted(3 * hour)))
        let after = try await plan()
        XCTAssertEqual(after, Array(p.dropFirst()))

        for bad in ["", "two words", "infusion!", String(repeating: "k", count: 33)] {
            await assertThrows(.invalidInput, bad) { try await r.recordEvent(kind: bad, at: at, zone: utcZone) }
        }
        await assertUnknownZone("zone") { try await r.recordEvent(kind: "infusion", at: at, zone: fixedOffsetZone) }
        await assertInvalid("at") { try await r.recordEvent(kind: "infusion", at: .distantPast, zone: utcZone) }
        events = try await r.events()
        XCTAssertEqual(events.count, 2)
    }

    // MARK: boundary

    func testBadTimesDatesZonesAndRulesAreInvalidInput() async throws {
        let r = try await makeReminders()
        let t = wallTime
        let d = localDay
        func time(_ hour: Int?, _ minute: Int?, _ second: Int? = nil) -> DateComponents {
            DateComponents(hour: hour, minute: minute, second: second)
        }
        func on(_ schedule: ReminderSchedule, _ category: ReminderCategory = .checkIn) -> NewReminder {
            rule(schedule, category)
        }
        let bad: [(String, NewReminder)] = [
            ("25:00", on(.daily(times: [time(25, 0)]))),
            ("12:60", on(.daily(times: [time(12, 60)]))),
            ("-1:00", on(.daily(times: [time(-1, 0)]))),
            ("09:00:30", on(.daily(times: [time(9, 0, 30)]))),
            ("no hour", on(.daily(times: [time(nil, 30)]))),
            ("empty time", on(.daily(times: [DateComponents()]))),
            ("no times", daily([])),
            ("25 times", daily((0..<25).map { String(format: "%02d:%02d", $0 / 2, $0 % 2 * 30) })),
            ("2026-02-30", daily(["09:00"], start: "2026-02-30")),
            ("start without a day", NewReminder(
                category: .checkIn, schedule: .daily(times: [t("09:00")]), start: DateComponents(year: 2026, month: 2))),
            ("end 2026-13-01", daily(["09:00"], end: "2026-13-01")),
            ("end before start", daily(["09:00"], start: "2026-05-02", end: "2026-05-01")),
            ("count 0", daily(["09:00"], count: 0)),
            ("count -1", daily(["09:00"], count: -1)),
            ("once 2026-02-30", on(.once(date: d("2026-02-30"), time: t("09:00")), .appointment)),
            ("once 24:00", on(.once(date: d("2026-02-03"), time: time(24, 0)), .appointment)),
            ("weekly no days", on(.weekly(days: [], times: [t("09:00")]))),
            ("every 0 days", on(.everyNDays(n: 0, times: [t("09:00")]))),
            ("every -1 days", on(.everyNDays(n: -1, times: [t("09:00")]))),
            ("every 366 days", on(.everyNDays(n: 366, times: [t("09:00")]))),
            ("day 0", on(.monthDay(day: 0, times: [t("09:00")]))),
            ("day -1", on(.monthDay(day: -1, times: [t("09:00")]))),
            ("day 32", on(.monthDay(day: 32, times: [t("09:00")]))),
            ("window backwards", on(.window(from: t("12:00"), to: t("10:00"), days: []))),
            ("window empty", on(.window(from: t("12:00"), to: t("12:00"), days: []))),
            ("window 25:00", on(.window(from: t("10:00"), to: time(25, 0), days: []))),
            ("no steps", on(.afterEvent(event: "infusion", steps: []), .postSession)),
            ("bad kind", on(.afterEvent(event: "no spaces", steps: [.after(minutes: 1)]), .postSession)),
            ("31 days after", on(.afterEvent(event: "infusion", steps: [.after(minutes: 30 * 24 * 60 + 1)]), .postSession)),
            ("-1 minutes after", on(.afterEvent(event: "infusion", steps: [.after(minutes: -1)]), .postSession)),
            ("day 366", on(.afterEvent(event: "infusion", steps: [.dayAt(day: 366, time: t("09:00"))]), .postSession)),
            ("step 25:00", on(.afterEvent(event: "infusion", steps: [.dayAt(day: 1, time: time(25, 0))]), .postSession)),
            ("grace", NewReminder(
                category: .checkIn, schedule: .daily(times: [t("09:00")]), start: d("2026-01-01"), graceMinutes: 7 * 24 * 60 + 1)),
            ("grace -1", NewReminder(
                category: .checkIn, schedule: .daily(times: [t("09:00")]), start: d("2026-01-01"), graceMinutes: -1)),
            ("long title", daily(["09:00"], title: String(repeating: "t", count: 121))),
            ("10 MB title", daily(["09:00"], title: String(repeating: "t", count: 10 * 1024 * 1024))),
        ]
        for (name, rule) in bad {
            await assertThrows(.invalidInput, name) { try await r.add(reminder: rule) }
        }
        let zoneless = try await r.list()
        XCTAssertEqual(zoneless.reminders, [], "nothing was stored")
        await assertUnknownZone("zone") { try await r.add(reminder: daily(["09:00"], zone: fixedOffsetZone)) }

        let good = try await r.add(reminder: daily(["09:00"], title: String(repeating: "t", count: 120)))
        for (name, rule) in bad {
            await assertThrows(.invalidInput, name) { try await r.update(id: good.id, reminder: rule) }
        }
        let unchanged = try await r.get(id: good.id)
        XCTAssertEqual(unchanged, good, "unchanged")

        let now = utc("2026-05-04T00:00")
        let ios = iosLimits()
        for device in [fixedOffsetZone, TimeZone(secondsFromGMT: -(9 * 3600 + 1800))!] {
            await assertUnknownZone("deviceZone", device.identifier) {
                try await r.plan(now: now, deviceZone: device, limits: ios, horizonDays: 7)
            }
            await assertUnknownZone("deviceZone", device.identifier) {
                try await r.occurrences(from: now, to: now.shifted(day), deviceZone: device)
            }
            await assertUnknownZone("deviceZone", device.identifier) {
                try await r.adherence(from: now, to: now.shifted(day), now: now, deviceZone: device)
            }
        }
        for horizon: Int32 in [0, 63, .max, -1] {
            await assertInvalid("horizonDays", "horizon \(horizon)") {
                try await r.plan(now: now, deviceZone: utcZone, limits: ios, horizonDays: horizon)
            }
        }
        let one = try await r.plan(now: now, deviceZone: utcZone, limits: ios, horizonDays: 1)
        XCTAssertEqual(one.notifications.count, 1)
        let most = try await r.plan(now: now, deviceZone: utcZone, limits: ios, horizonDays: 62)
        XCTAssertEqual(most.notifications.count, 62)
        await assertThrows(.invalidInput, "no room") {
            try await r.plan(
                now: now, deviceZone: utcZone,
                limits: PlatformLimits(maxPending: 0, exactAlarms: true, inexactWindowMinutes: 10), horizonDays: 7)
        }
        for at: Date in [.distantPast, .distantFuture] {
            await assertInvalid("now") { try await r.plan(now: at, deviceZone: utcZone, limits: ios, horizonDays: 7) }
            await assertInvalid("now") { try await r.adherence(from: now, to: now.shifted(day), now: at, deviceZone: utcZone) }
            await assertThrows(.invalidInput) { try await r.adherence(from: at, to: now, now: now, deviceZone: utcZone) }
            await assertInvalid("to") { try await r.adherence(from: now, to: at, now: now, deviceZone: utcZone) }
            await assertThrows(.invalidInput) { try await r.occurrences(from: at, to: now, deviceZone: utcZone) }
            await assertInvalid("to") { try await r.occurrences(from: now, to: at, deviceZone: utcZone) }
        }
        await assertThrows(.invalidInput) {
            try await r.occurrences(from: .distantPast, to: Date.distantPast.addingTimeInterval(day), deviceZone: utcZone)
        }
        let list = try await r.list()
        XCTAssertEqual(list.reminders.count, 1, "the library keeps working")
        await assertThrows(.invalidInput, "backwards") { try await r.occurrences(from: now, to: now.shifted(-0.001), deviceZone: utcZone) }
        await assertThrows(.invalidInput, "401 days") { try await r.occurrences(from: now, to: now.shifted(401 * day), deviceZone: utcZone) }
        let year = try await r.occurrences(from: now, to: now.shifted(400 * day), deviceZone: utcZone)
        XCTAssertEqual(year.count, 400)
    }

    /// Which field each refusal above names: checked separately, so that a
    /// change of wording in one place shows as one failure.
    func testRefusedRulesNameTheirField() async throws {
        let r = try await makeReminders()
        let t = wallTime
        await assertInvalid("times") { try await r.add(reminder: rule(.daily(times: [DateComponents(hour: 9, minute: 0, second: 30)]))) }
        await assertInvalid("start") {
            try await r.add(reminder: NewReminder(
                category: .checkIn, schedule: .daily(times: [t("09:00")]), start: DateComponents(year: 2026, month: 2)))
        }
        await assertInvalid("count") { try await r.add(reminder: daily(["09:00"], count: -1)) }
        await assertInvalid("n") { try await r.add(reminder: rule(.everyNDays(n: -1, times: [t("09:00")]))) }
        await assertInvalid("day") { try await r.add(reminder: rule(.monthDay(day: -1, times: [t("09:00")]))) }
        await assertInvalid("minutes") {
            try await r.add(reminder: rule(.afterEvent(event: "infusion", steps: [.after(minutes: -1)]), .postSession))
        }
        await assertInvalid("graceMinutes") {
            try await r.add(reminder: NewReminder(
                category: .checkIn, schedule: .daily(times: [t("09:00")]), start: localDay("2026-01-01"), graceMinutes: -1))
        }
        await assertInvalid("time") {
            try await r.add(reminder: rule(.once(date: localDay("2026-02-03"), time: DateComponents(hour: 24, minute: 0)), .appointment))
        }
        await assertInvalid("date") {
            try await r.add(reminder: rule(.once(date: DateComponents(year: 2026, day: 3), time: t("09:00")), .appointment))
        }
    }

    func testGarbageOccurrenceKeysAreInvalidInput() async throws {
        let r = try await makeReminders()
        let added = try await r.add(reminder: daily(["09:00"]))
        func plan() async throws -> [PlannedNotification] {
            try await r.plan(now: utc("2026-05-04T00:00"), deviceZone: utcZone, limits: iosLimits(), horizonDays: 1).notifications
        }
        let p = try await plan()
        let good = try XCTUnwrap(p.first)
        let id = added.id.value
        let keys = [
            "", "garbage", "a:b:c", ":::", id, "\(id):2026-05-04", "\(id):2026-05-04:0:1",
            "\(id.uppercased()):2026-05-04:0", "\(id):2026-05-04:0 ", "\(id):2026/05/04:0",
            "\(id):2026-05-04:ö", "../../etc/passwd:x:y", "\(id):\(String(repeating: "9", count: 200)):0",
            String(repeating: "garbage", count: 1_500_000),
        ]
        for key in keys {
            for report: ReminderReport in [.shown(at: good.due), .done(at: good.due), .skipped(at: good.due),
                                           .snoozed(until: good.due.shifted(hour))] {
                let error = await assertThrows(.invalidInput, String(key.prefix(80))) {
                    try await r.report(occurrence: key, due: good.due, report: report)
                }
                if key.count > 3, let error {
                    XCTAssertFalse(error.localizedDescription.contains(String(key.prefix(40))), "the message does not repeat the key")
                    XCTAssertFalse("\(error)".contains(String(key.prefix(40))), "nor its description")
                }
            }
        }
        // Nothing was recorded: the occurrence is still planned and not shown.
        let again = try await plan()
        XCTAssertEqual(again, p)
        let adherence = try await r.adherence(
            from: good.due, to: good.due.shifted(0.001), now: good.due.shifted(0.001), deviceZone: utcZone)
        XCTAssertEqual(adherence.rules.first?.shown, 0)
        try await r.report(occurrence: good.occurrence, due: good.due, report: .shown(at: good.due))
    }

    func testRemindersAfterCloseAreClosed() async throws {
        let journal = try await makeJournal()
        let r = try journal.reminders()
        let added = try await r.add(reminder: daily(["09:00"]))
        let now = utc("2026-05-04T00:00")
        let plan = try await r.plan(now: now, deviceZone: utcZone, limits: iosLimits(), horizonDays: 1).notifications
        try await journal.close()

        let calls: [(String, () async throws -> Any)] = [
            ("reminders", { try journal.reminders() }),
            ("add", { try await r.add(reminder: daily(["09:00"])) }),
            ("update", { try await r.update(id: added.id, reminder: daily(["10:00"])) }),
            ("get", { try await r.get(id: added.id) }),
            ("list", { try await r.list() }),
            ("delete", { try await r.delete(id: added.id) }),
            ("recordEvent", { try await r.recordEvent(kind: "infusion", at: now, zone: utcZone) }),
            ("events", { try await r.events() }),
            ("setQuietHours", { try await r.setQuietHours(quiet: nil) }),
            ("quietHours", { try await r.quietHours() as Any }),
            ("report", { try await r.report(occurrence: plan[0].occurrence, due: plan[0].due, report: .done(at: now)) }),
            ("reportBlocking", { try r.reportBlocking(occurrence: plan[0].occurrence, due: plan[0].due, report: .done(at: now)) }),
            ("plan", { try await r.plan(now: now, deviceZone: utcZone, limits: iosLimits(), horizonDays: 7) }),
            ("planBlocking", { try r.planBlocking(now: now, deviceZone: utcZone, limits: iosLimits(), horizonDays: 7) }),
            ("occurrences", { try await r.occurrences(from: now, to: now.shifted(day), deviceZone: utcZone) }),
            ("adherence", { try await r.adherence(from: now, to: now.shifted(day), now: now, deviceZone: utcZone) }),
        ]
        for (name, call) in calls {
            await assertThrows(.closed, name) { try await call() }
        }
        // The free functions need no journal.
        XCTAssertEqual(iosLimits().maxPending, 64)
        XCTAssertFalse(androidLimits(exactAlarmsAllowed: false).exactAlarms)
        XCTAssertEqual(try diffPlan(plan: plan, heldIds: []).add, plan)

        // The rule is intact and the journal opens again.
        let reopened = try await Journal.open(path: path(), key: key)
        closeAtTearDown(reopened)
        let list = try await reopened.reminders().list()
        XCTAssertEqual(list.reminders, [added])
    }
}
