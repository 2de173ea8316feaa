import Cairn
import CairnKit
import Foundation
import XCTest

/// An in-memory `UNUserNotificationCenter`: pending requests by id, and
/// delivered reminders.
final class FakeScheduler: ReminderNotificationScheduler, @unchecked Sendable {
    struct State {
        var pending: [String: PendingReminderRequest] = [:]
        var scheduled: [String: ReminderNotificationRequest] = [:]
        var delivered: [(info: ReminderNotificationInfo, identifier: String, date: Date)] = []
        var removeCalls = 0
        var scheduleCalls = 0
        var failing: Set<String> = []
    }

    let state = Locked(State())

    init(foreign: [String] = []) {
        state.withValue { s in
            for id in foreign { s.pending[id] = PendingReminderRequest(identifier: id, title: "App", body: "Not Cairn's") }
        }
    }

    var pendingIds: Set<String> { Set(state.current.pending.keys) }

    func pendingRequests() async -> [PendingReminderRequest] {
        state.withValue { Array($0.pending.values) }
    }

    func deliveredReminders() async -> [(info: ReminderNotificationInfo, identifier: String, date: Date)] {
        state.current.delivered
    }

    func removePending(identifiers: [String]) {
        state.withValue { s in
            s.removeCalls += 1
            for id in identifiers { s.pending[id] = nil; s.scheduled[id] = nil }
        }
    }

    struct Refused: Error {}

    func schedule(_ request: ReminderNotificationRequest) async throws {
        try state.withValue { s in
            s.scheduleCalls += 1
            if s.failing.contains(request.identifier) { throw Refused() }
            s.pending[request.identifier] = PendingReminderRequest(identifier: request.identifier, title: request.title, body: request.body)
            s.scheduled[request.identifier] = request
        }
    }
}

/// CairnKit's reminder layer, with a fake notification center, on real journals.
final class ReminderPlanApplierTests: JournalTestCase {
    let now = utcMs("2026-05-04T00:00")
    var nowDate: Date { Date(timeIntervalSince1970: TimeInterval(now) / 1000) }

    func makeApplier(
        _ reminders: Reminders, _ scheduler: FakeScheduler, zone: String = "Europe/Paris", clock: Locked<Date>? = nil
    ) throws -> NotificationPlanApplier {
        let clock = clock ?? Locked(nowDate)
        return NotificationPlanApplier(
            reminders: reminders, scheduler: scheduler, differ: try ReminderPlanDiffer(),
            deviceZone: { zone }, clock: { clock.current })
    }

    func testDifferDefaultsToIosLimits() throws {
        let differ = try ReminderPlanDiffer()
        XCTAssertEqual(differ.limits, try iosLimits())
        XCTAssertEqual(differ.horizonDays, 7)
        XCTAssertEqual(differ.limits(foreignPending: 4).maxPending, 60)
        XCTAssertEqual(differ.limits(foreignPending: 64).maxPending, 0)
        XCTAssertEqual(differ.limits(foreignPending: 100).maxPending, 0)
        XCTAssertTrue(ReminderPlanDiffer.isReminder("cairn-0123"))
        XCTAssertFalse(ReminderPlanDiffer.isReminder("com.example.other"))
    }

    func testApplySchedulesThePlanCancelsStaleAndLeavesOthersAlone() async throws {
        let r = try makeJournal().reminders()
        _ = try r.add(reminder: daily(["08:00", "20:00"]))
        let scheduler = FakeScheduler(foreign: ["app.birthday", "cairn-stale"])
        let applier = try makeApplier(r, scheduler)

        let changes = try await applier.apply()
        let plan = try r.plan(nowMs: now, deviceZone: "Europe/Paris", limits: iosLimits(), horizonDays: 7).notifications
        XCTAssertEqual(plan.count, 14)
        XCTAssertEqual(changes.remove, ["cairn-stale"])
        XCTAssertEqual(changes.add.map(\.identifier), plan.map(\.id))
        XCTAssertEqual(changes.planned, 14)
        XCTAssertEqual(changes.corrupted, [], "no damaged record")
        XCTAssertEqual(changes.foreignPending, 1)
        XCTAssertEqual(scheduler.pendingIds, Set(plan.map(\.id) + ["app.birthday"]))

        // What each request carries: the plan's generic text, its time, and
        // what the delegate reports against.
        for n in plan {
            let request = try XCTUnwrap(scheduler.state.current.scheduled[n.id])
            XCTAssertEqual(request.title, n.title)
            XCTAssertEqual(request.title, "Time for your check-in")
            XCTAssertEqual(request.body, n.body)
            XCTAssertEqual(request.fireDate.timeIntervalSince1970, TimeInterval(n.fireAtMs) / 1000)
            XCTAssertEqual(request.info, ReminderNotificationInfo(occurrence: n.occurrence, dueMs: n.dueMs, reminderId: n.reminderId))
        }

        // Nothing changed: nothing to do.
        let again = try await applier.apply()
        XCTAssertTrue(again.isEmpty)
        XCTAssertEqual(scheduler.state.current.scheduleCalls, 14)
    }

    /// 64 is the app's limit, not Cairn's: other pending requests use slots.
    func testTheLimitCountsTheAppsOtherRequests() async throws {
        let r = try makeJournal().reminders()
        for _ in 0..<50 { _ = try r.add(reminder: daily(["08:00", "12:30", "19:00"])) }
        let scheduler = FakeScheduler(foreign: ["app.a", "app.b"])
        let applier = try makeApplier(r, scheduler)
        let changes = try await applier.apply()
        XCTAssertEqual(changes.add.count, 62)
        XCTAssertEqual(scheduler.pendingIds.count, 64)
        XCTAssertEqual(Set(changes.add.map(\.info.reminderId)).count, 50, "every rule still has its next reminder")

        // No slot left: every Cairn request is cancelled, others are kept.
        scheduler.state.withValue { s in
            for i in 0..<62 { s.pending["app.\(i)"] = PendingReminderRequest(identifier: "app.\(i)", title: "", body: "") }
        }
        let full = try await applier.apply()
        XCTAssertEqual(full.add, [])
        XCTAssertEqual(full.remove.count, 62)
        XCTAssertTrue(scheduler.pendingIds.allSatisfy { !ReminderPlanDiffer.isReminder($0) })
        XCTAssertEqual(scheduler.pendingIds.count, 64)
    }

    /// Ids cover the occurrence, its time and its text: a title the patient
    /// hides again gets new ids, so the diff replaces what the lock screen shows.
    func testChangedTextIsScheduledAgain() async throws {
        let r = try makeJournal().reminders()
        let rule = try r.add(reminder: daily(["08:00"], category: .medication, title: "Lithium 400 mg", showTitle: true))
        let scheduler = FakeScheduler()
        let applier = try makeApplier(r, scheduler)
        let first = try await applier.apply()
        XCTAssertTrue(first.add.allSatisfy { $0.title == "Lithium 400 mg" })
        let firstIds = scheduler.pendingIds

        _ = try r.update(id: rule.id, reminder: daily(["08:00"], category: .medication, title: "Lithium 400 mg", showTitle: false))
        let plan = try r.plan(nowMs: now, deviceZone: "Europe/Paris", limits: iosLimits(), horizonDays: 7).notifications
        let diff = try diffPlan(plan: plan, heldIds: Array(firstIds))
        XCTAssertEqual(Set(diff.remove), firstIds, "every old id goes")
        XCTAssertEqual(diff.add.count, firstIds.count, "and comes back with the new text")
        let second = try await applier.apply()
        XCTAssertEqual(Set(second.remove), firstIds)
        XCTAssertEqual(Set(second.add.map(\.identifier)), scheduler.pendingIds)
        XCTAssertTrue(scheduler.pendingIds.isDisjoint(with: firstIds))
        XCTAssertTrue(scheduler.state.current.pending.values.allSatisfy { $0.title == "Reminder" && !$0.body.contains("Lithium") })
    }

    func testStaticChangesFromAPlan() throws {
        let r = try makeJournal().reminders()
        _ = try r.add(reminder: daily(["08:00", "20:00"]))
        let plan = try r.plan(nowMs: now, deviceZone: "UTC", limits: iosLimits(), horizonDays: 2).notifications
        let held = plan.prefix(2).map { PendingReminderRequest(identifier: $0.id, title: $0.title, body: $0.body) }
            + [PendingReminderRequest(identifier: "cairn-old", title: "x", body: "y"),
               PendingReminderRequest(identifier: "other", title: "x", body: "y")]
        let changes = try ReminderPlanDiffer.changes(plan: plan, held: held)
        XCTAssertEqual(changes.remove, ["cairn-old"])
        XCTAssertEqual(changes.add.map(\.identifier), plan.dropFirst(2).map(\.id))
        XCTAssertEqual(changes.planned, 4)
        XCTAssertEqual(changes.foreignPending, 1)
        XCTAssertTrue(try ReminderPlanDiffer.changes(plan: [], held: []).isEmpty)
    }

    func testRequestTriggerIsTheFireInstantInUTC() throws {
        let r = try makeJournal().reminders()
        _ = try r.add(reminder: daily(["02:30"], zone: "America/New_York", start: "2026-03-01"))
        let plan = try r.plan(nowMs: utcMs("2026-03-08T00:00"), deviceZone: "Asia/Tokyo", limits: iosLimits(), horizonDays: 1).notifications
        let request = ReminderNotificationRequest(try XCTUnwrap(plan.first))
        XCTAssertEqual(request.fireDate, Date(timeIntervalSince1970: TimeInterval(utcMs("2026-03-08T07:30")) / 1000))
        let c = request.triggerDateComponents
        XCTAssertEqual(c.timeZone?.secondsFromGMT(), 0)
        XCTAssertEqual([c.year, c.month, c.day, c.hour, c.minute, c.second], [2026, 3, 8, 7, 30, 0])
        XCTAssertEqual(c.calendar?.date(from: c), request.fireDate)
        XCTAssertEqual(request.timeInterval(from: request.fireDate - 90), 90)
        XCTAssertEqual(request.timeInterval(from: request.fireDate + 90), 1, "never zero or negative")
    }

    func testUserInfoRoundTrips() {
        let info = ReminderNotificationInfo(occurrence: "0123:2026-05-04:0", dueMs: 1_777_000_000_123, reminderId: "0123")
        XCTAssertEqual(ReminderNotificationInfo(userInfo: info.userInfo), info)
        XCTAssertTrue(info.userInfo.values.allSatisfy { $0 is String || $0 is NSNumber }, "property-list values")
        let forms: [Any] = [Int64(1_777_000_000_123), Int(1_777_000_000_123), NSNumber(value: 1_777_000_000_123 as Int64), "1777000000123"]
        for due in forms {
            let userInfo: [AnyHashable: Any] = ["cairn.occurrence": info.occurrence, "cairn.dueMs": due, "cairn.reminderId": "0123"]
            XCTAssertEqual(ReminderNotificationInfo(userInfo: userInfo), info, "\(type(of: due))")
        }
        XCTAssertNil(ReminderNotificationInfo(userInfo: [:]))
        XCTAssertNil(ReminderNotificationInfo(userInfo: ["cairn.occurrence": "x", "cairn.reminderId": "y"]))
        XCTAssertNil(ReminderNotificationInfo(userInfo: ["cairn.occurrence": 3, "cairn.dueMs": 1, "cairn.reminderId": "y"]))
        XCTAssertNil(ReminderNotificationInfo(userInfo: ["aps": ["alert": "push"]]))
    }

    func testActionsMapToReports() {
        let info = ReminderNotificationInfo(occurrence: "k", dueMs: 1_000_000, reminderId: "r")
        let delivered = Date(timeIntervalSince1970: 1_000.5)
        let at = Date(timeIntervalSince1970: 1_100)
        func reports(_ action: String, minutes: Int = 10, now: Date = at) -> [ReminderReport] {
            ReminderAction.reports(actionIdentifier: action, info: info, deliveredAt: delivered, now: now, snoozeMinutes: minutes)
        }
        XCTAssertEqual(reports(ReminderAction.done.rawValue), [.shown(atMs: 1_000_500), .done(atMs: 1_100_000)])
        XCTAssertEqual(reports(ReminderAction.skip.rawValue), [.shown(atMs: 1_000_500), .skipped(atMs: 1_100_000)])
        XCTAssertEqual(reports(ReminderAction.snooze.rawValue), [.shown(atMs: 1_000_500), .snoozed(untilMs: 1_700_000)])
        XCTAssertEqual(reports(ReminderAction.snooze.rawValue, minutes: 0).last, .snoozed(untilMs: 1_160_000))
        // Answered before it was due (a clock change): the snooze still ends after the due time.
        XCTAssertEqual(reports(ReminderAction.snooze.rawValue, now: Date(timeIntervalSince1970: 10)).last, .snoozed(untilMs: 1_600_000))
        // Opening the app or dismissing only reports that it was shown.
        XCTAssertEqual(reports("com.apple.UNNotificationDefaultActionIdentifier"), [.shown(atMs: 1_000_500)])
        XCTAssertEqual(reports("com.apple.UNNotificationDismissActionIdentifier"), [.shown(atMs: 1_000_500)])
        XCTAssertEqual(Set(ReminderAction.allCases.map(\.rawValue)).count, 3)
    }

    func testHandlingAnActionReportsItAndReapplies() async throws {
        let r = try makeJournal().reminders()
        let rule = try r.add(reminder: daily(["09:00"]))
        let scheduler = FakeScheduler()
        let clock = Locked(nowDate)
        let applier = try makeApplier(r, scheduler, zone: "UTC", clock: clock)
        try await applier.apply()
        let plan = try r.plan(nowMs: now, deviceZone: "UTC", limits: iosLimits(), horizonDays: 7).notifications
        XCTAssertEqual(scheduler.pendingIds, Set(plan.map(\.id)))

        // The first is delivered at 09:00; the patient snoozes it at 09:02.
        let first = ReminderNotificationInfo(plan[0])
        let deliveredAt = Date(timeIntervalSince1970: TimeInterval(plan[0].fireAtMs) / 1000)
        clock.withValue { $0 = deliveredAt + 120 }
        scheduler.removePending(identifiers: [plan[0].id])  // the OS delivered it
        let snoozed = try await applier.handle(actionIdentifier: ReminderAction.snooze.rawValue, info: first, deliveredAt: deliveredAt)
        XCTAssertEqual(snoozed.add.count, 2, "the snoozed one, and a new day at the end of the horizon")
        let again = try XCTUnwrap(snoozed.add.first { $0.info == first })
        XCTAssertEqual(again.fireDate, deliveredAt + 120 + 600)

        // Delivered again, then done.
        clock.withValue { $0 = again.fireDate + 60 }
        scheduler.removePending(identifiers: [again.identifier])
        let done = try await applier.handle(actionIdentifier: ReminderAction.done.rawValue, info: first, deliveredAt: again.fireDate)
        XCTAssertFalse(done.add.contains { $0.info == first })
        XCTAssertFalse(scheduler.state.current.scheduled.values.contains { $0.info == first })

        let report = try r.adherence(fromMs: now, toMs: now + dayMs, nowMs: now + dayMs, deviceZone: "UTC")
        XCTAssertEqual(report.rules, [Adherence(key: rule.id, due: 1, shown: 1, late: 0, notShown: 0, done: 1, skipped: 0, missed: 0)])
    }

    func testDeliveredRemindersAreReportedShownOnce() async throws {
        let r = try makeJournal().reminders()
        let rule = try r.add(reminder: daily(["09:00"]))
        let plan = try r.plan(nowMs: now, deviceZone: "UTC", limits: iosLimits(), horizonDays: 7).notifications
        let scheduler = FakeScheduler()
        let late = Date(timeIntervalSince1970: TimeInterval(plan[0].fireAtMs + 20 * minuteMs) / 1000)
        scheduler.state.withValue { s in
            s.delivered = [
                (ReminderNotificationInfo(plan[0]), plan[0].id, late),
                (ReminderNotificationInfo(occurrence: "garbage", dueMs: 0, reminderId: "x"), "cairn-garbage", late),
            ]
        }
        let clock = Locked(late)
        let applier = try makeApplier(r, scheduler, zone: "UTC", clock: clock)
        try await applier.apply()
        try await applier.apply()
        let report = try r.adherence(fromMs: now, toMs: now + dayMs, nowMs: now + dayMs, deviceZone: "UTC")
        XCTAssertEqual(report.rules, [Adherence(key: rule.id, due: 1, shown: 1, late: 1, notShown: 0, done: 0, skipped: 0, missed: 1)])
        try await applier.presented(info: ReminderNotificationInfo(plan[1]), at: Date(timeIntervalSince1970: TimeInterval(plan[1].fireAtMs) / 1000))
        let two = try r.adherence(fromMs: now, toMs: now + 2 * dayMs, nowMs: now + 2 * dayMs, deviceZone: "UTC")
        XCTAssertEqual(two.rules.first?.shown, 2)
        XCTAssertEqual(two.rules.first?.late, 1)
    }

    func testApplyFollowsTheDeviceZone() async throws {
        let r = try makeJournal().reminders()
        _ = try r.add(reminder: daily(["09:00"]))
        let zone = Locked("America/Chicago")
        let scheduler = FakeScheduler()
        let applier = NotificationPlanApplier(
            reminders: r, scheduler: scheduler, differ: try ReminderPlanDiffer(horizonDays: 2),
            deviceZone: { zone.current }, clock: { Date(timeIntervalSince1970: TimeInterval(utcMs("2026-07-15T00:00")) / 1000) })
        let chicago = try await applier.apply()
        XCTAssertEqual(chicago.add.first?.fireDate.timeIntervalSince1970, TimeInterval(utcMs("2026-07-15T14:00")) / 1000)
        zone.withValue { $0 = "Europe/Lisbon" }  // NSSystemTimeZoneDidChange
        let lisbon = try await applier.apply()
        XCTAssertEqual(lisbon.remove.count, 2)
        XCTAssertEqual(lisbon.add.first?.fireDate.timeIntervalSince1970, TimeInterval(utcMs("2026-07-15T08:00")) / 1000)

        zone.withValue { $0 = "Mars/Base" }
        do {
            try await applier.apply()
            XCTFail("an unknown device zone throws")
        } catch let error as CairnError {
            XCTAssertEqual(error.kind, .invalidInput)
        }
        XCTAssertEqual(scheduler.pendingIds.count, 2, "left as it was")
    }

    func testSchedulerErrorsAreThrownAfterTheRest() async throws {
        let r = try makeJournal().reminders()
        _ = try r.add(reminder: daily(["09:00"]))
        let plan = try r.plan(nowMs: now, deviceZone: "UTC", limits: iosLimits(), horizonDays: 7).notifications
        let scheduler = FakeScheduler()
        scheduler.state.withValue { $0.failing = [plan[1].id] }
        let applier = try makeApplier(r, scheduler, zone: "UTC")
        do {
            try await applier.apply()
            XCTFail("expected the scheduler's error")
        } catch is FakeScheduler.Refused {}
        XCTAssertEqual(scheduler.pendingIds, Set(plan.map(\.id)).subtracting([plan[1].id]))
        scheduler.state.withValue { $0.failing = [] }
        let retry = try await applier.apply()
        XCTAssertEqual(retry.add.map(\.identifier), [plan[1].id])
    }

    func testConcurrentAppliesEndInThePlan() async throws {
        let journal = try makeJournal()
        let r = try journal.reminders()
        for t in ["08:00", "12:00", "18:00"] { _ = try r.add(reminder: daily([t])) }
        let scheduler = FakeScheduler()
        let applier = try makeApplier(r, scheduler)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { try await applier.apply() } }
            try await group.waitForAll()
        }
        let plan = try r.plan(nowMs: now, deviceZone: "Europe/Paris", limits: iosLimits(), horizonDays: 7).notifications
        XCTAssertEqual(scheduler.pendingIds, Set(plan.map(\.id)))
        XCTAssertEqual(scheduler.state.current.scheduleCalls, plan.count, "each scheduled once: applies ran one at a time")

        try journal.close()
        do {
            try await applier.apply()
            XCTFail("a closed journal throws")
        } catch let error as CairnError {
            XCTAssertEqual(error.kind, .closed)
        }
    }
}
