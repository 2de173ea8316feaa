import Cairn
import Foundation
import XCTest

// MARK: - helpers

/// ms since the epoch of a UTC wall-clock time, `YYYY-MM-DDTHH:MM`.
func utcMs(_ text: String) -> Int64 {
    let parts = text.split(whereSeparator: { "-T:".contains($0) }).map { Int64($0)! }
    precondition(parts.count == 5, text)
    let (y0, m, d) = (parts[0], parts[1], parts[2])
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    return ((days * 24 + parts[3]) * 60 + parts[4]) * 60_000
}

/// The wall-clock `HH:MM` of `ms` at a UTC offset.
func wallClock(_ ms: Int64, offsetSeconds: Int32) -> String {
    let minutes = ((ms / 1000 + Int64(offsetSeconds)) / 60) % (24 * 60)
    let m = minutes < 0 ? minutes + 24 * 60 : minutes
    return String(format: "%02d:%02d", Int(m / 60), Int(m % 60))
}

let minuteMs: Int64 = 60_000

func daily(
    _ times: [String], zone: String? = nil, start: String = "2026-01-01", category: ReminderCategory = .checkIn,
    title: String? = nil, showTitle: Bool = false, quiet: QuietPolicy? = nil, count: UInt32? = nil,
    end: String? = nil, enabled: Bool = true
) -> NewReminder {
    NewReminder(
        category: category, schedule: .daily(times: times), start: start, zone: zone, end: end, count: count,
        title: title, showTitle: showTitle, quiet: quiet, enabled: enabled)
}

func isHexId(_ s: String) -> Bool {
    s.count == 32 && s.allSatisfy { "0123456789abcdef".contains($0) }
}

/// Tests of `Journal.reminders()` and every `Reminders` method and reminder
/// free function, on real journals.
final class ReminderTests: JournalTestCase {
    func makeReminders() throws -> Reminders {
        try makeJournal().reminders()
    }

    // MARK: rules

    func testAddGetListUpdateDelete() throws {
        let r = try makeReminders()
        XCTAssertEqual(try r.list().reminders, [])
        let a = try r.add(reminder: daily(["20:00", "08:00", "08:00"], title: "Mood before bed"))
        XCTAssertTrue(isHexId(a.id), a.id)
        XCTAssertEqual(a.revision, 1)
        XCTAssertEqual(a.schedule, .daily(times: ["08:00", "20:00"]))  // sorted, de-duplicated
        XCTAssertEqual(a.category, .checkIn)
        XCTAssertEqual(a.start, "2026-01-01")
        XCTAssertNil(a.zone)  // follows the device
        XCTAssertNil(a.end)
        XCTAssertNil(a.count)
        XCTAssertEqual(a.title, "Mood before bed")
        XCTAssertFalse(a.showTitle)
        XCTAssertEqual(a.quiet, .defer)  // the default
        XCTAssertEqual(a.graceMinutes, 60)
        XCTAssertTrue(a.enabled)
        XCTAssertEqual(try r.get(id: a.id), a)

        let b = try r.add(reminder: NewReminder(
            category: .medication, schedule: .daily(times: ["09:00"]), start: "2026-02-01",
            zone: "Europe/Paris", end: "2026-12-31", count: 10, title: nil, showTitle: true,
            quiet: .ignore, graceMinutes: 30, enabled: false))
        XCTAssertEqual(b.zone, "Europe/Paris")
        XCTAssertEqual(b.end, "2026-12-31")
        XCTAssertEqual(b.count, 10)
        XCTAssertEqual(b.quiet, .ignore)
        XCTAssertEqual(b.graceMinutes, 30)
        XCTAssertFalse(b.enabled)
        XCTAssertEqual(try r.list().reminders, [a, b])  // in the order they were added

        let a2 = try r.update(id: a.id, reminder: daily(["07:15"], zone: "Asia/Tokyo", category: .journaling))
        XCTAssertEqual(a2.id, a.id)
        XCTAssertEqual(a2.revision, 2)
        XCTAssertEqual(a2.schedule, .daily(times: ["07:15"]))
        XCTAssertEqual(a2.zone, "Asia/Tokyo")
        XCTAssertEqual(a2.category, .journaling)
        XCTAssertNil(a2.title)
        XCTAssertEqual(try r.get(id: a.id), a2)

        try r.delete(id: a.id)
        assertThrows(.notFound) { try r.get(id: a.id) }
        assertThrows(.notFound) { try r.delete(id: a.id) }
        assertThrows(.notFound) { try r.update(id: a.id, reminder: daily(["08:00"])) }
        XCTAssertEqual(try r.list().reminders, [b])

        // Malformed ids are InvalidInput; well-formed unknown ones NotFound.
        for bad in ["", "nope", a.id.uppercased(), a.id + "0", String(repeating: "z", count: 32)] {
            assertThrows(.invalidInput, bad) { try r.get(id: bad) }
            assertThrows(.invalidInput, bad) { try r.delete(id: bad) }
            assertThrows(.invalidInput, bad) { try r.update(id: bad, reminder: daily(["08:00"])) }
        }
        assertThrows(.notFound) { try r.get(id: String(repeating: "0", count: 32)) }
    }

    func testRulesPersistAcrossReopening() throws {
        let journal = try Journal.create(path: path(), key: key, zones: nil)
        let rule = try journal.reminders().add(reminder: daily(["09:00"], title: "t"))
        try journal.reminders().setQuietHours(quiet: QuietHours(start: "22:00", end: "07:00"))
        let event = try journal.reminders().recordEvent(kind: "infusion", atMs: utcMs("2026-03-10T10:00"), zone: "UTC")
        try journal.close()

        let reopened = try Journal.open(path: path(), key: key)
        defer { XCTAssertNoThrow(try reopened.close()) }
        let r = try reopened.reminders()
        XCTAssertEqual(try r.list().reminders, [rule])
        XCTAssertEqual(try r.quietHours(), QuietHours(start: "22:00", end: "07:00"))
        XCTAssertEqual(try r.events(), [event])
    }

    func testEveryScheduleRoundTrips() throws {
        let r = try makeReminders()
        let schedules: [ReminderSchedule] = [
            .daily(times: ["08:00", "12:30"]),
            .weekly(days: [.mon, .wed, .fri], times: ["10:00"]),
            .everyNDays(n: 3, times: ["21:45"]),
            .monthDay(day: 31, times: ["09:00"]),
            .once(date: "2026-06-05", time: "12:00"),
            .window(from: "10:00", to: "12:00", days: []),
            .window(from: "18:00", to: "18:30", days: [.sat, .sun]),
            .afterEvent(event: "infusion", steps: [.after(minutes: 120), .dayAt(day: 1, time: "09:00")]),
        ]
        for s in schedules {
            let rule = try r.add(reminder: NewReminder(category: .copingStep, schedule: s, start: "2026-06-01"))
            XCTAssertEqual(rule.schedule, s, "\(s)")
            XCTAssertEqual(try r.get(id: rule.id).schedule, s)
        }
        // Weekdays and times are normalised; a one-off starts on its date.
        let w = try r.add(reminder: NewReminder(
            category: .checkIn, schedule: .weekly(days: [.fri, .mon, .fri], times: ["10:00", "09:00"]), start: "2026-06-01"))
        XCTAssertEqual(w.schedule, .weekly(days: [.mon, .fri], times: ["09:00", "10:00"]))
        let once = try r.add(reminder: NewReminder(
            category: .appointment, schedule: .once(date: "2026-07-04", time: "15:00"), start: "2026-06-01"))
        XCTAssertEqual(once.start, "2026-07-04")
        XCTAssertEqual(try r.list().reminders.count, schedules.count + 2)
    }

    // MARK: occurrences

    func testOccurrencesOfEachSchedule() throws {
        let r = try makeReminders()
        func fires(_ s: ReminderSchedule, start: String = "2026-06-01", count: UInt32? = nil, end: String? = nil,
                   from: String = "2026-06-01T00:00", to: String = "2026-06-15T00:00") throws -> [Occurrence] {
            let rule = try r.add(reminder: NewReminder(
                category: .checkIn, schedule: s, start: start, zone: "UTC", end: end, count: count))
            defer { try? r.delete(id: rule.id) }
            let all = try r.occurrences(fromMs: utcMs(from), toMs: utcMs(to), deviceZone: "UTC")
            XCTAssertTrue(all.allSatisfy { $0.reminderId == rule.id && $0.key.hasPrefix(rule.id + ":") })
            XCTAssertEqual(all.map(\.fireMs), all.map(\.fireMs).sorted())
            return all
        }
        // 2026-06-01 is a Monday.
        XCTAssertEqual(try fires(.weekly(days: [.mon, .wed], times: ["10:00"])).map(\.fireMs),
                       ["2026-06-01", "2026-06-03", "2026-06-08", "2026-06-10"].map { utcMs($0 + "T10:00") })
        XCTAssertEqual(try fires(.everyNDays(n: 3, times: ["07:00"])).map(\.fireMs),
                       ["01", "04", "07", "10", "13"].map { utcMs("2026-06-\($0)T07:00") })
        // The 31st falls back to the month's last day.
        XCTAssertEqual(try fires(.monthDay(day: 31, times: ["09:00"]), start: "2026-04-01",
                                 from: "2026-04-01T00:00", to: "2026-07-01T00:00").map(\.fireMs),
                       ["2026-04-30", "2026-05-31", "2026-06-30"].map { utcMs($0 + "T09:00") })
        let once = try fires(.once(date: "2026-06-05", time: "12:00"))
        XCTAssertEqual(once.map(\.fireMs), [utcMs("2026-06-05T12:00")])
        XCTAssertEqual(once.first?.key.split(separator: ":").dropFirst().joined(separator: ":"), "2026-06-05:0")

        // A window fires once a day at a whole minute in [from, to).
        let rule = try r.add(reminder: NewReminder(
            category: .checkIn, schedule: .window(from: "10:00", to: "12:00", days: []), start: "2026-06-01", zone: "UTC"))
        let window = try r.occurrences(fromMs: utcMs("2026-06-01T00:00"), toMs: utcMs("2026-06-15T00:00"), deviceZone: "UTC")
        XCTAssertEqual(window.count, 14)
        for (i, o) in window.enumerated() {
            let day = utcMs("2026-06-01T00:00") + Int64(i) * dayMs
            XCTAssertGreaterThanOrEqual(o.fireMs, day + 10 * hourMs)
            XCTAssertLessThan(o.fireMs, day + 12 * hourMs)
            XCTAssertEqual(o.fireMs % minuteMs, 0)
        }
        XCTAssertGreaterThan(Set(window.map { $0.fireMs % dayMs }).count, 1, "not the same minute every day")
        XCTAssertEqual(try r.occurrences(fromMs: utcMs("2026-06-01T00:00"), toMs: utcMs("2026-06-15T00:00"), deviceZone: "UTC"),
                       window, "reproducible")
        try r.delete(id: rule.id)

        // A count limits the rule's occurrences from its start; an end date is inclusive.
        XCTAssertEqual(try fires(.daily(times: ["08:00", "20:00"]), count: 3).count, 3)
        XCTAssertEqual(try fires(.daily(times: ["08:00"]), end: "2026-06-04").count, 4)
        XCTAssertEqual(try fires(.daily(times: ["08:00"]), count: 3, from: "2026-06-03T00:00").count, 1)

        // Paused rules have no occurrences.
        let paused = try r.add(reminder: daily(["08:00"], zone: "UTC", enabled: false))
        XCTAssertEqual(try r.occurrences(fromMs: utcMs("2026-06-01T00:00"), toMs: utcMs("2026-06-15T00:00"), deviceZone: "UTC"), [])
        XCTAssertEqual(try r.plan(nowMs: utcMs("2026-06-01T00:00"), deviceZone: "UTC", limits: iosLimits(), horizonDays: 7).notifications, [])
        try r.delete(id: paused.id)
    }

    // MARK: time semantics

    /// 02:30 does not exist in New York on 2026-03-08: it fires at 03:30 EDT.
    func testSpringForwardGapShiftsForward() throws {
        let r = try makeReminders()
        let rule = try r.add(reminder: daily(["02:30"], zone: "America/New_York", start: "2026-03-06"))
        let occ = try r.occurrences(
            fromMs: utcMs("2026-03-07T00:00"), toMs: utcMs("2026-03-10T00:00"), deviceZone: "Europe/Paris")
        XCTAssertEqual(occ.map(\.key), ["2026-03-07", "2026-03-08", "2026-03-09"].map { "\(rule.id):\($0):0" })
        XCTAssertEqual(occ.map(\.fireMs), [utcMs("2026-03-07T07:30"), utcMs("2026-03-08T07:30"), utcMs("2026-03-09T06:30")])
        XCTAssertEqual(occ.map(\.utcOffsetSeconds), [-5 * 3600, -4 * 3600, -4 * 3600] as [Int32])
        XCTAssertEqual(occ.map { wallClock($0.fireMs, offsetSeconds: $0.utcOffsetSeconds) }, ["02:30", "03:30", "02:30"])

        let plan = try r.plan(nowMs: utcMs("2026-03-08T00:00"), deviceZone: "Europe/Paris", limits: iosLimits(), horizonDays: 1).notifications
        XCTAssertEqual(plan.count, 1)
        XCTAssertEqual(plan.first?.fireAtMs, utcMs("2026-03-08T07:30"))  // 03:30 EDT
        XCTAssertEqual(plan.first?.dueMs, utcMs("2026-03-08T07:30"))
        XCTAssertEqual(plan.first?.utcOffsetSeconds, -4 * 3600)
        XCTAssertEqual(plan.first?.occurrence, "\(rule.id):2026-03-08:0")
    }

    /// 01:30 happens twice in New York on 2026-11-01: it fires once, at 01:30 EDT.
    func testFallBackOverlapFiresOnceAtTheFirst() throws {
        let r = try makeReminders()
        let rule = try r.add(reminder: daily(["01:30"], zone: "America/New_York", start: "2026-10-01"))
        let occ = try r.occurrences(
            fromMs: utcMs("2026-10-31T00:00"), toMs: utcMs("2026-11-03T00:00"), deviceZone: "UTC")
        XCTAssertEqual(occ.map(\.key), ["2026-10-31", "2026-11-01", "2026-11-02"].map { "\(rule.id):\($0):0" })
        XCTAssertEqual(occ.map(\.fireMs), [utcMs("2026-10-31T05:30"), utcMs("2026-11-01T05:30"), utcMs("2026-11-02T06:30")])
        XCTAssertEqual(occ.map(\.utcOffsetSeconds), [-4 * 3600, -4 * 3600, -5 * 3600] as [Int32])
        XCTAssertFalse(occ.contains { $0.fireMs == utcMs("2026-11-01T06:30") }, "not again at 01:30 EST")
        XCTAssertTrue(occ.allSatisfy { wallClock($0.fireMs, offsetSeconds: $0.utcOffsetSeconds) == "01:30" })

        let plan = try r.plan(nowMs: utcMs("2026-11-01T00:00"), deviceZone: "UTC", limits: iosLimits(), horizonDays: 1).notifications
        XCTAssertEqual(plan.filter { $0.occurrence.contains(":2026-11-01:") }.map(\.fireAtMs), [utcMs("2026-11-01T05:30")])
    }

    /// A rule following the device fires at 09:00 wherever the device is; a
    /// rule pinned to Chicago fires at 09:00 in Chicago, 15:00 in Lisbon.
    func testFollowDeviceKeepsTheWallClockAndPinnedKeepsTheInstant() throws {
        let r = try makeReminders()
        let follow = try r.add(reminder: daily(["09:00"], start: "2026-07-01"))
        let pinned = try r.add(reminder: daily(["09:00"], zone: "America/Chicago", start: "2026-07-01"))
        let from = utcMs("2026-07-15T00:00"), to = utcMs("2026-07-16T00:00")

        for (device, followUtc) in [("America/Chicago", "2026-07-15T14:00"), ("Europe/Lisbon", "2026-07-15T08:00")] {
            let occ = try r.occurrences(fromMs: from, toMs: to, deviceZone: device)
            let f = try XCTUnwrap(occ.first { $0.reminderId == follow.id }, device)
            let p = try XCTUnwrap(occ.first { $0.reminderId == pinned.id }, device)
            XCTAssertEqual(f.fireMs, utcMs(followUtc), device)
            XCTAssertEqual(wallClock(f.fireMs, offsetSeconds: f.utcOffsetSeconds), "09:00", device)
            XCTAssertEqual(p.fireMs, utcMs("2026-07-15T14:00"), device)  // 09:00 CDT either way
            XCTAssertEqual(p.utcOffsetSeconds, -5 * 3600, device)

            let deviceOffset = Int32(TimeZone(identifier: device)!.secondsFromGMT(
                for: Date(timeIntervalSince1970: TimeInterval(p.fireMs) / 1000)))
            XCTAssertEqual(wallClock(f.fireMs, offsetSeconds: deviceOffset), "09:00", device)
            XCTAssertEqual(wallClock(p.fireMs, offsetSeconds: deviceOffset), device == "Europe/Lisbon" ? "15:00" : "09:00", device)

            let plan = try r.plan(nowMs: from, deviceZone: device, limits: iosLimits(), horizonDays: 1).notifications
            XCTAssertEqual(plan.first { $0.reminderId == follow.id }?.fireAtMs, utcMs(followUtc), device)
            XCTAssertEqual(plan.first { $0.reminderId == pinned.id }?.fireAtMs, utcMs("2026-07-15T14:00"), device)
        }
    }

    // MARK: the plan

    func testPlatformLimits() throws {
        let ios = try iosLimits()
        XCTAssertEqual(ios.maxPending, 64)
        XCTAssertTrue(ios.exactAlarms)
        let exact = try androidLimits(exactAlarmsAllowed: true)
        XCTAssertTrue(exact.exactAlarms)
        XCTAssertGreaterThan(exact.maxPending, 64)
        let inexact = try androidLimits(exactAlarmsAllowed: false)
        XCTAssertFalse(inexact.exactAlarms)
        XCTAssertGreaterThanOrEqual(inexact.inexactWindowMinutes, 10)
        XCTAssertGreaterThan(inexact.maxPending, 64)
    }

    /// 50 rules × 3 a day, with iOS's 64: every rule's next reminder first,
    /// then the next ones, returned in time order, with generic text.
    func testIosPlanKeeps64FairlyInTimeOrderWithGenericText() throws {
        let r = try makeReminders()
        let categories: [ReminderCategory] = [.checkIn, .medication, .journaling, .copingStep, .postSession, .appointment]
        var rules: [Reminder] = []
        for i in 0..<50 {
            rules.append(try r.add(reminder: daily(
                ["08:00", "12:30", "19:00"], start: "2026-05-01", category: categories[i % categories.count],
                title: i == 7 ? nil : "Secret \(i)", showTitle: i % 10 == 0 || i == 7)))
        }
        let now = utcMs("2026-05-04T00:00")
        let plan = try r.plan(nowMs: now, deviceZone: "Europe/Paris", limits: iosLimits(), horizonDays: 7).notifications
        XCTAssertEqual(plan.count, 64)
        XCTAssertEqual(Set(plan.map(\.reminderId)), Set(rules.map(\.id)), "every rule is present")
        XCTAssertEqual(plan.map(\.fireAtMs), plan.map(\.fireAtMs).sorted(), "in time order")
        XCTAssertEqual(Set(plan.map(\.id)).count, 64, "ids are unique")
        XCTAssertTrue(plan.allSatisfy { $0.id.hasPrefix("cairn-") })
        // Paris is UTC+2 in May: 08:00 is 06:00Z, 12:30 is 10:30Z.
        XCTAssertEqual(plan.filter { $0.fireAtMs == utcMs("2026-05-04T06:00") }.count, 50)
        XCTAssertEqual(plan.filter { $0.fireAtMs == utcMs("2026-05-04T10:30") }.count, 14)
        XCTAssertTrue(plan.allSatisfy { $0.exact && $0.dueMs == $0.fireAtMs && $0.fireAtMs >= now })

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
        let android = try r.plan(nowMs: now, deviceZone: "Europe/Paris", limits: androidLimits(exactAlarmsAllowed: true), horizonDays: 7).notifications
        XCTAssertEqual(android.count, min(Int(try androidLimits(exactAlarmsAllowed: true).maxPending), 50 * 3 * 7))
        let custom = try r.plan(
            nowMs: now, deviceZone: "Europe/Paris",
            limits: PlatformLimits(maxPending: 5, exactAlarms: true, inexactWindowMinutes: 10), horizonDays: 7).notifications
        XCTAssertEqual(custom.count, 5)
    }

    func testAndroidWithoutExactAlarmsPlansInexactWindows() throws {
        let r = try makeReminders()
        _ = try r.add(reminder: daily(["08:00", "20:00"]))
        let now = utcMs("2026-05-04T00:00")
        let inexact = try r.plan(nowMs: now, deviceZone: "Europe/Paris", limits: androidLimits(exactAlarmsAllowed: false), horizonDays: 7).notifications
        XCTAssertEqual(inexact.count, 14)
        XCTAssertTrue(inexact.allSatisfy { !$0.exact && $0.windowMinutes >= 10 }, "\(inexact.map(\.windowMinutes))")
        let exact = try r.plan(nowMs: now, deviceZone: "Europe/Paris", limits: androidLimits(exactAlarmsAllowed: true), horizonDays: 7).notifications
        XCTAssertTrue(exact.allSatisfy { $0.exact })
        XCTAssertEqual(exact.map(\.id), inexact.map(\.id), "the same occurrences at the same times")
        // A narrower window than 10 minutes is widened.
        let narrow = try r.plan(
            nowMs: now, deviceZone: "Europe/Paris",
            limits: PlatformLimits(maxPending: 10, exactAlarms: false, inexactWindowMinutes: 1), horizonDays: 7).notifications
        XCTAssertTrue(narrow.allSatisfy { !$0.exact && $0.windowMinutes >= 10 })
    }

    func testDiffPlan() throws {
        let r = try makeReminders()
        let rule = try r.add(reminder: daily(["08:00", "13:00", "20:00"]))
        let now = utcMs("2026-05-04T00:00")
        let p1 = try r.plan(nowMs: now, deviceZone: "UTC", limits: iosLimits(), horizonDays: 3).notifications
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
        let p2 = try r.plan(nowMs: now + dayMs, deviceZone: "UTC", limits: iosLimits(), horizonDays: 3).notifications
        XCTAssertEqual(p2, try r.plan(nowMs: now + dayMs, deviceZone: "UTC", limits: iosLimits(), horizonDays: 3).notifications)
        let d = try diffPlan(plan: p2, heldIds: ids1)
        XCTAssertEqual(d.remove, Array(ids1.prefix(3)).sorted())
        XCTAssertEqual(d.add, Array(p2.suffix(3)))
        XCTAssertEqual(Array(p1.dropFirst(3)), Array(p2.prefix(6)))

        // Moving the rule moves its occurrences: new ids.
        _ = try r.update(id: rule.id, reminder: daily(["08:05", "13:00", "20:00"]))
        let p3 = try r.plan(nowMs: now, deviceZone: "UTC", limits: iosLimits(), horizonDays: 3).notifications
        let d3 = try diffPlan(plan: p3, heldIds: ids1)
        XCTAssertEqual(d3.remove.count, 3)
        XCTAssertEqual(d3.add.map(\.fireAtMs).map { wallClock($0, offsetSeconds: 0) }, ["08:05", "08:05", "08:05"])

        // Deleting the rule cancels everything.
        try r.delete(id: rule.id)
        let p4 = try r.plan(nowMs: now, deviceZone: "UTC", limits: iosLimits(), horizonDays: 3).notifications
        XCTAssertEqual(p4, [])
        XCTAssertEqual(try diffPlan(plan: p4, heldIds: ids1), PlanDiff(add: [], remove: ids1.sorted()))
    }

    func testQuietHoursDeferSkipOrIgnore() throws {
        let r = try makeReminders()
        XCTAssertNil(try r.quietHours())
        try r.setQuietHours(quiet: QuietHours(start: "22:00", end: "07:00"))
        XCTAssertEqual(try r.quietHours(), QuietHours(start: "22:00", end: "07:00"))

        let deferred = try r.add(reminder: daily(["23:00"], quiet: .defer))
        let skipped = try r.add(reminder: daily(["23:00"], quiet: .skip))
        let ignored = try r.add(reminder: daily(["23:00"], quiet: .ignore))
        let byDefault = try r.add(reminder: daily(["23:00"]))  // defers
        let now = utcMs("2026-05-04T12:00")
        func plan() throws -> [PlannedNotification] {
            try r.plan(nowMs: now, deviceZone: "UTC", limits: iosLimits(), horizonDays: 2).notifications
        }
        var p = try plan()
        let due = utcMs("2026-05-04T23:00")
        for rule in [deferred, byDefault] {
            let first = try XCTUnwrap(p.first { $0.reminderId == rule.id })
            XCTAssertEqual(first.dueMs, due)
            XCTAssertEqual(first.fireAtMs, utcMs("2026-05-05T07:00"), "moved to the end of the quiet hours")
            XCTAssertTrue(p.filter { $0.reminderId == rule.id }.allSatisfy { wallClock($0.fireAtMs, offsetSeconds: 0) == "07:00" })
        }
        XCTAssertFalse(p.contains { $0.reminderId == skipped.id })
        XCTAssertEqual(p.first { $0.reminderId == ignored.id }?.fireAtMs, due)

        // Quiet hours are in the device's zone: in Paris, this rule (which
        // follows the device) is due at 23:00 Paris and deferred to 07:00 Paris.
        let paris = try r.plan(nowMs: now, deviceZone: "Europe/Paris", limits: iosLimits(), horizonDays: 2).notifications
        XCTAssertEqual(paris.first { $0.reminderId == deferred.id }?.fireAtMs, utcMs("2026-05-05T05:00"))

        // Deferral never passes the rule's next occurrence: then it is skipped.
        for rule in [deferred, skipped, ignored, byDefault] { try r.delete(id: rule.id) }
        let twice = try r.add(reminder: daily(["06:00", "23:00"], quiet: .defer))
        p = try plan()
        XCTAssertFalse(p.contains { wallClock($0.dueMs, offsetSeconds: 0) == "23:00" }, "23:00 would pass 06:00")
        XCTAssertEqual(p.filter { $0.reminderId == twice.id }.map(\.fireAtMs), [utcMs("2026-05-05T07:00"), utcMs("2026-05-06T07:00")])

        // Cleared, reminders fire on time again.
        try r.setQuietHours(quiet: nil)
        XCTAssertNil(try r.quietHours())
        p = try plan()
        XCTAssertEqual(p.first?.fireAtMs, utcMs("2026-05-04T23:00"))

        assertThrows(.invalidInput) { try r.setQuietHours(quiet: QuietHours(start: "24:00", end: "07:00")) }
        assertThrows(.invalidInput) { try r.setQuietHours(quiet: QuietHours(start: "22:00", end: "")) }
        XCTAssertNil(try r.quietHours())
    }

    // MARK: lifecycle

    func testReportsThenAdherence() throws {
        let r = try makeReminders()
        let rule = try r.add(reminder: daily(["09:00"]))
        let plan = try r.plan(nowMs: utcMs("2026-01-01T00:00"), deviceZone: "UTC", limits: iosLimits(), horizonDays: 5).notifications
        XCTAssertEqual(plan.map(\.dueMs), (1...5).map { utcMs("2026-01-0\($0)T09:00") })
        let n = plan

        // 0: shown on time, done. 1: shown late, skipped. 2: snoozed.
        // 3: nothing. 4: shown, not answered yet.
        try r.report(occurrence: n[0].occurrence, dueMs: n[0].dueMs, report: .shown(atMs: n[0].dueMs + minuteMs))
        try r.report(occurrence: n[0].occurrence, dueMs: n[0].dueMs, report: .done(atMs: n[0].dueMs + 2 * minuteMs))
        try r.report(occurrence: n[1].occurrence, dueMs: n[1].dueMs, report: .shown(atMs: n[1].dueMs + 10 * minuteMs))
        try r.report(occurrence: n[1].occurrence, dueMs: n[1].dueMs, report: .skipped(atMs: n[1].dueMs + 11 * minuteMs))
        try r.report(occurrence: n[2].occurrence, dueMs: n[2].dueMs, report: .snoozed(untilMs: n[2].dueMs + 30 * minuteMs))
        try r.report(occurrence: n[4].occurrence, dueMs: n[4].dueMs, report: .shown(atMs: n[4].dueMs))
        try r.report(occurrence: n[4].occurrence, dueMs: n[4].dueMs, report: .shown(atMs: n[4].dueMs + 5 * minuteMs))  // the earliest counts
        assertThrows(.invalidInput, "a snooze must end after the due time") {
            try r.report(occurrence: n[3].occurrence, dueMs: n[3].dueMs, report: .snoozed(untilMs: n[3].dueMs))
        }

        // The next plan drops done and skipped, moves the snoozed one.
        let again = try r.plan(nowMs: utcMs("2026-01-01T00:00"), deviceZone: "UTC", limits: iosLimits(), horizonDays: 5).notifications
        XCTAssertEqual(again.map(\.occurrence), [n[2], n[3], n[4]].map(\.occurrence))
        XCTAssertEqual(again[0].fireAtMs, n[2].dueMs + 30 * minuteMs)
        XCTAssertEqual(again[0].dueMs, n[2].dueMs)
        XCTAssertNotEqual(again[0].id, n[2].id, "a moved occurrence gets a new id")
        XCTAssertEqual(Array(again.dropFirst()), [n[3], n[4]])
        let d = try diffPlan(plan: again, heldIds: n.map(\.id))
        XCTAssertEqual(Set(d.remove), Set([n[0].id, n[1].id, n[2].id]))
        XCTAssertEqual(d.add, [again[0]])

        let from = utcMs("2026-01-01T00:00"), to = utcMs("2026-01-06T00:00")
        let expected = Adherence(key: rule.id, due: 5, shown: 3, late: 1, notShown: 2, done: 1, skipped: 1, missed: 2)
        let report = try r.adherence(fromMs: from, toMs: to, nowMs: n[4].dueMs + 10 * minuteMs, deviceZone: "UTC")
        XCTAssertEqual(report.rules, [expected])
        var category = expected
        category.key = "check_in"
        XCTAssertEqual(report.categories, [category])

        // Once its grace period has passed, the last one is missed too.
        let later = try r.adherence(fromMs: from, toMs: to, nowMs: n[4].dueMs + 2 * hourMs, deviceZone: "UTC")
        XCTAssertEqual(later.rules.first?.missed, 3)
        // Only what was due before now counts.
        let early = try r.adherence(fromMs: from, toMs: to, nowMs: n[1].dueMs + minuteMs, deviceZone: "UTC")
        XCTAssertEqual(early.rules.first?.due, 2)
        XCTAssertEqual(try r.adherence(fromMs: from, toMs: from, nowMs: to, deviceZone: "UTC").rules.first?.due, 0)
    }

    func testAfterEventRuleFollowsRecordedEvents() throws {
        let r = try makeReminders()
        let rule = try r.add(reminder: NewReminder(
            category: .postSession,
            schedule: .afterEvent(event: "infusion", steps: [.after(minutes: 120), .dayAt(day: 1, time: "09:00"), .dayAt(day: 3, time: "09:00")]),
            start: "2026-01-01", zone: "Europe/Paris"))
        let at = utcMs("2026-03-10T10:00")
        XCTAssertEqual(try r.events(), [])
        XCTAssertEqual(try r.plan(nowMs: at, deviceZone: "UTC", limits: iosLimits(), horizonDays: 7).notifications, [], "no event yet")

        let other = try r.recordEvent(kind: "therapy", atMs: at - dayMs, zone: "UTC")
        let event = try r.recordEvent(kind: "Infusion", atMs: at, zone: "Europe/Paris")
        XCTAssertTrue(isHexId(event.id))
        XCTAssertEqual(event.kind, "infusion")
        XCTAssertEqual(event.atMs, at)
        XCTAssertEqual(event.zone, "Europe/Paris")
        XCTAssertEqual(try r.events(), [other, event])  // by time

        let occ = try r.occurrences(fromMs: at - dayMs, toMs: at + 10 * dayMs, deviceZone: "UTC")
        XCTAssertEqual(occ.map(\.key), (0..<3).map { "\(rule.id):e\(event.id):\($0)" })
        // +120 min; then 09:00 Paris (UTC+1 in March) one and three days later.
        XCTAssertEqual(occ.map(\.fireMs), [at + 2 * hourMs, utcMs("2026-03-11T08:00"), utcMs("2026-03-13T08:00")])

        let plan = try r.plan(nowMs: at, deviceZone: "UTC", limits: iosLimits(), horizonDays: 7).notifications
        XCTAssertEqual(plan.map(\.occurrence), occ.map(\.key))
        XCTAssertTrue(plan.allSatisfy { $0.category == .postSession && $0.title == "After your session" })
        try r.report(occurrence: plan[0].occurrence, dueMs: plan[0].dueMs, report: .done(atMs: at + 3 * hourMs))
        XCTAssertEqual(try r.plan(nowMs: at, deviceZone: "UTC", limits: iosLimits(), horizonDays: 7).notifications, Array(plan.dropFirst()))

        for bad in ["", "two words", "infusion!", String(repeating: "k", count: 33)] {
            assertThrows(.invalidInput, bad) { try r.recordEvent(kind: bad, atMs: at, zone: "UTC") }
        }
        assertThrows(.invalidInput) { try r.recordEvent(kind: "infusion", atMs: at, zone: "Mars/Base") }
        assertThrows(.invalidInput) { try r.recordEvent(kind: "infusion", atMs: .min, zone: "UTC") }
        XCTAssertEqual(try r.events().count, 2)
    }

    // MARK: boundary

    func testBadTimesDatesZonesAndRulesAreInvalidInput() throws {
        let r = try makeReminders()
        let bad: [(String, NewReminder)] = [
            ("25:00", daily(["25:00"])),
            ("12:60", daily(["12:60"])),
            ("9am", daily(["9am"])),
            ("empty time", daily([""])),
            ("no times", daily([])),
            ("25 times", daily((0..<25).map { String(format: "%02d:%02d", $0 / 2, $0 % 2 * 30) })),
            ("2026-02-30", daily(["09:00"], start: "2026-02-30")),
            ("start format", daily(["09:00"], start: "01/02/2026")),
            ("end 2026-13-01", daily(["09:00"], end: "2026-13-01")),
            ("end before start", daily(["09:00"], start: "2026-05-02", end: "2026-05-01")),
            ("Mars/Base", daily(["09:00"], zone: "Mars/Base")),
            ("empty zone", daily(["09:00"], zone: "")),
            ("count 0", daily(["09:00"], count: 0)),
            ("once 2026-02-30", NewReminder(category: .appointment, schedule: .once(date: "2026-02-30", time: "09:00"), start: "2026-01-01")),
            ("once 24:00", NewReminder(category: .appointment, schedule: .once(date: "2026-02-03", time: "24:00"), start: "2026-01-01")),
            ("weekly no days", NewReminder(category: .checkIn, schedule: .weekly(days: [], times: ["09:00"]), start: "2026-01-01")),
            ("every 0 days", NewReminder(category: .checkIn, schedule: .everyNDays(n: 0, times: ["09:00"]), start: "2026-01-01")),
            ("every 366 days", NewReminder(category: .checkIn, schedule: .everyNDays(n: 366, times: ["09:00"]), start: "2026-01-01")),
            ("day 0", NewReminder(category: .checkIn, schedule: .monthDay(day: 0, times: ["09:00"]), start: "2026-01-01")),
            ("day 32", NewReminder(category: .checkIn, schedule: .monthDay(day: 32, times: ["09:00"]), start: "2026-01-01")),
            ("window backwards", NewReminder(category: .checkIn, schedule: .window(from: "12:00", to: "10:00", days: []), start: "2026-01-01")),
            ("window empty", NewReminder(category: .checkIn, schedule: .window(from: "12:00", to: "12:00", days: []), start: "2026-01-01")),
            ("window 25:00", NewReminder(category: .checkIn, schedule: .window(from: "10:00", to: "25:00", days: []), start: "2026-01-01")),
            ("no steps", NewReminder(category: .postSession, schedule: .afterEvent(event: "infusion", steps: []), start: "2026-01-01")),
            ("bad kind", NewReminder(category: .postSession, schedule: .afterEvent(event: "no spaces", steps: [.after(minutes: 1)]), start: "2026-01-01")),
            ("31 days after", NewReminder(category: .postSession, schedule: .afterEvent(event: "infusion", steps: [.after(minutes: 30 * 24 * 60 + 1)]), start: "2026-01-01")),
            ("day 366", NewReminder(category: .postSession, schedule: .afterEvent(event: "infusion", steps: [.dayAt(day: 366, time: "09:00")]), start: "2026-01-01")),
            ("step 25:00", NewReminder(category: .postSession, schedule: .afterEvent(event: "infusion", steps: [.dayAt(day: 1, time: "25:00")]), start: "2026-01-01")),
            ("grace", NewReminder(category: .checkIn, schedule: .daily(times: ["09:00"]), start: "2026-01-01", graceMinutes: 7 * 24 * 60 + 1)),
            ("long title", daily(["09:00"], title: String(repeating: "t", count: 121))),
            ("10 MB title", daily(["09:00"], title: String(repeating: "t", count: 10 * 1024 * 1024))),
            ("10 MB zone", daily(["09:00"], zone: String(repeating: "z", count: 10 * 1024 * 1024))),
        ]
        for (name, rule) in bad {
            assertThrows(.invalidInput, name) { try r.add(reminder: rule) }
        }
        XCTAssertEqual(try r.list().reminders, [], "nothing was stored")

        let good = try r.add(reminder: daily(["09:00"], title: String(repeating: "t", count: 120)))
        for (name, rule) in bad {
            assertThrows(.invalidInput, name) { try r.update(id: good.id, reminder: rule) }
        }
        XCTAssertEqual(try r.get(id: good.id), good, "unchanged")

        let now = utcMs("2026-05-04T00:00")
        let ios = try iosLimits()
        for zone in ["Mars/Base", "", "../../etc/passwd"] {
            assertThrows(.invalidInput, zone) { try r.plan(nowMs: now, deviceZone: zone, limits: ios, horizonDays: 7).notifications }
            assertThrows(.invalidInput, zone) { try r.occurrences(fromMs: now, toMs: now + dayMs, deviceZone: zone) }
            assertThrows(.invalidInput, zone) { try r.adherence(fromMs: now, toMs: now + dayMs, nowMs: now, deviceZone: zone) }
        }
        for horizon: UInt32 in [0, 63, .max] {
            assertThrows(.invalidInput, "horizon \(horizon)") { try r.plan(nowMs: now, deviceZone: "UTC", limits: ios, horizonDays: horizon).notifications }
        }
        XCTAssertEqual(try r.plan(nowMs: now, deviceZone: "UTC", limits: ios, horizonDays: 1).notifications.count, 1)
        XCTAssertEqual(try r.plan(nowMs: now, deviceZone: "UTC", limits: ios, horizonDays: 62).notifications.count, 62)
        assertThrows(.invalidInput, "no room") {
            try r.plan(nowMs: now, deviceZone: "UTC", limits: PlatformLimits(maxPending: 0, exactAlarms: true, inexactWindowMinutes: 10), horizonDays: 7).notifications
        }
        for ms: Int64 in [.min, .max] {
            assertThrows(.invalidInput) { try r.plan(nowMs: ms, deviceZone: "UTC", limits: ios, horizonDays: 7).notifications }
            assertThrows(.invalidInput) { try r.adherence(fromMs: now, toMs: now + dayMs, nowMs: ms, deviceZone: "UTC") }
            assertThrows(.invalidInput) { try r.adherence(fromMs: ms, toMs: now, nowMs: now, deviceZone: "UTC") }
            assertThrows(.invalidInput) { try r.adherence(fromMs: now, toMs: ms, nowMs: now, deviceZone: "UTC") }
        }
        assertThrows(.invalidInput) { try r.occurrences(fromMs: .max, toMs: now, deviceZone: "UTC") }
        assertThrows(.invalidInput) { try r.occurrences(fromMs: now, toMs: .max, deviceZone: "UTC") }
        assertThrows(.invalidInput) { try r.occurrences(fromMs: .min, toMs: .min + dayMs, deviceZone: "UTC") }
        // Known FFI bug (bindings/src/lib.rs, `Reminders::occurrences`): the
        // range check computes `to_ms - from_ms` before the instants are
        // checked, which overflows for Int64.min, a Rust panic in debug
        // builds (uniffi's panic error, not a CairnError; the app survives).
        // Release builds wrap and then refuse the instant: InvalidInput.
        do {
            _ = try r.occurrences(fromMs: .min, toMs: now, deviceZone: "UTC")
            XCTFail("Int64.min is not an instant")
        } catch let error as CairnError {
            XCTAssertEqual(error.kind, .invalidInput)
        } catch {
            XCTAssertTrue("\(error)".contains("overflow"), "\(error)")
        }
        XCTAssertEqual(try r.list().reminders.count, 1, "the library keeps working")
        assertThrows(.invalidInput, "backwards") { try r.occurrences(fromMs: now, toMs: now - 1, deviceZone: "UTC") }
        assertThrows(.invalidInput, "401 days") { try r.occurrences(fromMs: now, toMs: now + 401 * dayMs, deviceZone: "UTC") }
        XCTAssertEqual(try r.occurrences(fromMs: now, toMs: now + 400 * dayMs, deviceZone: "UTC").count, 400)
    }

    func testGarbageOccurrenceKeysAreInvalidInput() throws {
        let r = try makeReminders()
        let rule = try r.add(reminder: daily(["09:00"]))
        let plan = try r.plan(nowMs: utcMs("2026-05-04T00:00"), deviceZone: "UTC", limits: iosLimits(), horizonDays: 1).notifications
        let good = try XCTUnwrap(plan.first)
        let keys = [
            "", "garbage", "a:b:c", ":::", rule.id, "\(rule.id):2026-05-04", "\(rule.id):2026-05-04:0:1",
            "\(rule.id.uppercased()):2026-05-04:0", "\(rule.id):2026-05-04:0 ", "\(rule.id):2026/05/04:0",
            "\(rule.id):2026-05-04:ö", "../../etc/passwd:x:y", "\(rule.id):\(String(repeating: "9", count: 200)):0",
            String(repeating: "garbage", count: 1_500_000),
        ]
        for key in keys {
            for report: ReminderReport in [.shown(atMs: good.dueMs), .done(atMs: good.dueMs), .skipped(atMs: good.dueMs),
                                           .snoozed(untilMs: good.dueMs + hourMs)] {
                let error = assertThrows(.invalidInput, String(key.prefix(80))) {
                    try r.report(occurrence: key, dueMs: good.dueMs, report: report)
                }
                if key.count > 3, let error {
                    XCTAssertFalse("\(error)".contains(String(key.prefix(40))), "the message does not repeat the key")
                }
            }
        }
        // Nothing was recorded: the occurrence is still planned and not shown.
        XCTAssertEqual(try r.plan(nowMs: utcMs("2026-05-04T00:00"), deviceZone: "UTC", limits: iosLimits(), horizonDays: 1).notifications, plan)
        XCTAssertEqual(try r.adherence(fromMs: good.dueMs, toMs: good.dueMs + 1, nowMs: good.dueMs + 1, deviceZone: "UTC").rules.first?.shown, 0)
        XCTAssertNoThrow(try r.report(occurrence: good.occurrence, dueMs: good.dueMs, report: .shown(atMs: good.dueMs)))
    }

    func testRemindersAfterCloseAreClosed() throws {
        let journal = try makeJournal()
        let r = try journal.reminders()
        let rule = try r.add(reminder: daily(["09:00"]))
        let plan = try r.plan(nowMs: utcMs("2026-05-04T00:00"), deviceZone: "UTC", limits: iosLimits(), horizonDays: 1).notifications
        try journal.close()

        let now = utcMs("2026-05-04T00:00")
        let calls: [(String, () throws -> Any)] = [
            ("reminders", { try journal.reminders() }),
            ("add", { try r.add(reminder: daily(["09:00"])) }),
            ("update", { try r.update(id: rule.id, reminder: daily(["10:00"])) }),
            ("get", { try r.get(id: rule.id) }),
            ("list", { try r.list().reminders }),
            ("delete", { try r.delete(id: rule.id) }),
            ("recordEvent", { try r.recordEvent(kind: "infusion", atMs: now, zone: "UTC") }),
            ("events", { try r.events() }),
            ("setQuietHours", { try r.setQuietHours(quiet: nil) }),
            ("quietHours", { try r.quietHours() as Any }),
            ("report", { try r.report(occurrence: plan[0].occurrence, dueMs: plan[0].dueMs, report: .done(atMs: now)) }),
            ("plan", { try r.plan(nowMs: now, deviceZone: "UTC", limits: iosLimits(), horizonDays: 7).notifications }),
            ("occurrences", { try r.occurrences(fromMs: now, toMs: now + dayMs, deviceZone: "UTC") }),
            ("adherence", { try r.adherence(fromMs: now, toMs: now + dayMs, nowMs: now, deviceZone: "UTC") }),
        ]
        for (name, call) in calls {
            assertThrows(.closed, name) { try call() }
        }
        // The free functions need no journal.
        XCTAssertEqual(try iosLimits().maxPending, 64)
        XCTAssertNoThrow(try androidLimits(exactAlarmsAllowed: false))
        XCTAssertEqual(try diffPlan(plan: plan, heldIds: []).add, plan)

        // The rule is intact and the journal opens again.
        let reopened = try Journal.open(path: path(), key: key)
        defer { XCTAssertNoThrow(try reopened.close()) }
        XCTAssertEqual(try reopened.reminders().list().reminders, [rule])
    }
}
