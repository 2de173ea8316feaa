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
    let now = utc("2026-05-04T00:00")

    func makeApplier(
        _ reminders: Reminders, _ scheduler: FakeScheduler, zone: TimeZone = paris, clock: Locked<Date>? = nil
    ) -> NotificationPlanApplier {
        let clock = clock ?? Locked(now)
        return NotificationPlanApplier(
            reminders: reminders, scheduler: scheduler, differ: ReminderPlanDiffer(),
            deviceZone: { zone }, clock: { clock.current })
    }

    func makeReminders() async throws -> Reminders {
        try await makeJournal().reminders()
    }

    func plan(_ r: Reminders, zone: TimeZone, horizonDays: Int32 = 7) async throws -> [PlannedNotification] {
        try await r.plan(now: now, deviceZone: zone, limits: iosLimits(), horizonDays: horizonDays).notifications
    }

    func testDifferDefaultsToIosLimits() {
        let differ = ReminderPlanDiffer()
        XCTAssertEqual(differ.limits, iosLimits())
        XCTAssertEqual(differ.horizonDays, 7)
        XCTAssertEqual(differ.limits(foreignPending: 4).maxPending, 60)
        XCTAssertEqual(differ.limits(foreignPending: 64).maxPending, 0)
        XCTAssertEqual(differ.limits(foreignPending: 100).maxPending, 0)
        XCTAssertEqual(ReminderPlanDiffer.identifierPrefix, "cairn-")
        XCTAssertTrue(ReminderPlanDiffer.isReminder("cairn-0123"))
        XCTAssertFalse(ReminderPlanDiffer.isReminder("com.example.other"))
    }

    func testApplySchedulesThePlanCancelsStaleAndLeavesOthersAlone() async throws {
        let r = try await makeReminders()
        _ = try await r.add(reminder: daily(["08:00", "20:00"]))
        let scheduler = FakeScheduler(foreign: ["app.birthday", "cairn-stale"])
        let applier = makeApplier(r, scheduler)

        let changes = try await applier.apply()
        let plan = try await plan(r, zone: paris)
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
            XCTAssertEqual(request.fireDate, n.fireAt)
            XCTAssertEqual(request.info, ReminderNotificationInfo(occurrence: n.occurrence, due: n.due, reminderId: n.reminderId))
        }

        // Nothing changed: nothing to do.
        let again = try await applier.apply()
        XCTAssertTrue(again.isEmpty)
        XCTAssertEqual(scheduler.state.current.scheduleCalls, 14)
    }

    /// 64 is the app's limit, not Cairn's: other pending requests use slots.
    func testTheLimitCountsTheAppsOtherRequests() async throws {
        let r = try await makeReminders()
        for _ in 0..<50 { _ = try await r.add(reminder: daily(["08:00", "12:30", "19:00"])) }
        let scheduler = FakeScheduler(foreign: ["app.a", "app.b"])
        let applier = makeApplier(r, scheduler)
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
        let r = try await makeReminders()
        let rule = try await r.add(reminder: daily(["08:00"], category: .medication, title: "Lithium 400 mg", showTitle: true))
        let scheduler = FakeScheduler()
        let applier = makeApplier(r, scheduler)
        let first = try await applier.apply()
        XCTAssertTrue(first.add.allSatisfy { $0.title == "Lithium 400 mg" })
        let firstIds = scheduler.pendingIds

        _ = try await r.update(id: rule.id, reminder: daily(["08:00"], category: .medication, title: "Lithium 400 mg", showTitle: false))
        let plan = try await plan(r, zone: paris)
        let diff = try diffPlan(plan: plan, heldIds: Array(firstIds))
        XCTAssertEqual(Set(diff.remove), firstIds, "every old id goes")
        XCTAssertEqual(diff.add.count, firstIds.count, "and comes back with the new text")
        let second = try await applier.apply()
        XCTAssertEqual(Set(second.remove), firstIds)
        XCTAssertEqual(Set(second.add.map(\.identifier)), scheduler.pendingIds)
        XCTAssertTrue(scheduler.pendingIds.isDisjoint(with: firstIds))
        XCTAssertTrue(scheduler.state.current.pending.values.allSatisfy { $0.title == "Reminder" && !$0.body.contains("Lithium") })
    }

    func testStaticChangesFromAPlan() async throws {
        let r = try await makeReminders()
        _ = try await r.add(reminder: daily(["08:00", "20:00"]))
        let plan = try await plan(r, zone: utcZone, horizonDays: 2)
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

    func testRequestTriggerIsTheFireInstantInUTC() async throws {
        let r = try await makeReminders()
        _ = try await r.add(reminder: daily(["02:30"], zone: zone("America/New_York"), start: "2026-03-01"))
        let plan = try await r.plan(now: utc("2026-03-08T00:00"), deviceZone: tokyo, limits: iosLimits(), horizonDays: 1).notifications
        let request = ReminderNotificationRequest(try XCTUnwrap(plan.first))
        XCTAssertEqual(request.fireDate, utc("2026-03-08T07:30"))
        let c = request.triggerDateComponents
        XCTAssertEqual(c.timeZone?.secondsFromGMT(), 0)
        XCTAssertEqual([c.year, c.month, c.day, c.hour, c.minute, c.second], [2026, 3, 8, 7, 30, 0])
        XCTAssertEqual(c.calendar?.date(from: c), request.fireDate)
        XCTAssertEqual(request.timeInterval(from: request.fireDate - 90), 90)
        XCTAssertEqual(request.timeInterval(from: request.fireDate + 90), 1, "never zero or negative")
    }

    func testUserInfoRoundTrips() {
        let due = instant(ms: 1_777_000_000_123)
        let info = ReminderNotificationInfo(occurrence: "0123:2026-05-04:0", due: due, reminderId: ReminderId("0123"))
        XCTAssertEqual(ReminderNotificationInfo(userInfo: info.userInfo), info)
        XCTAssertTrue(info.userInfo.values.allSatisfy { $0 is String || $0 is NSNumber }, "property-list values")
        XCTAssertEqual(info.userInfo["cairn.dueMs"] as? NSNumber, NSNumber(value: 1_777_000_000_123 as Int64), "as earlier versions wrote it")
        let forms: [Any] = [Int64(1_777_000_000_123), Int(1_777_000_000_123), NSNumber(value: 1_777_000_000_123 as Int64), "1777000000123"]
        for form in forms {
            let userInfo: [AnyHashable: Any] = ["cairn.occurrence": info.occurrence, "cairn.dueMs": form, "cairn.reminderId": "0123"]
            XCTAssertEqual(ReminderNotificationInfo(userInfo: userInfo), info, "\(type(of: form))")
        }
        XCTAssertNil(ReminderNotificationInfo(userInfo: [:]))
        XCTAssertNil(ReminderNotificationInfo(userInfo: ["cairn.occurrence": "x", "cairn.reminderId": "y"]))
        XCTAssertNil(ReminderNotificationInfo(userInfo: ["cairn.occurrence": 3, "cairn.dueMs": 1, "cairn.reminderId": "y"]))
        XCTAssertNil(ReminderNotificationInfo(userInfo: ["aps": ["alert": "push"]]))
    }

    func testActionsMapToReports() {
        let info = ReminderNotificationInfo(occurrence: "k", due: instant(ms: 1_000_000), reminderId: ReminderId("r"))
        let delivered = instant(ms: 1_000_500)
        let at = instant(ms: 1_100_000)
        func reports(_ action: String, minutes: Int = 10, now: Date = at) -> [ReminderReport] {
            ReminderAction.reports(actionIdentifier: action, info: info, deliveredAt: delivered, now: now, snoozeMinutes: minutes)
        }
        func msOf(_ reports: [ReminderReport]) -> [String] {
            reports.map {
                switch $0 {
                case let .shown(at): return "shown \(ms(at))"
                case let .done(at): return "done \(ms(at))"
                case let .skipped(at): return "skipped \(ms(at))"
                case let .snoozed(until): return "snoozed \(ms(until))"
                }
            }
        }
        XCTAssertEqual(msOf(reports(ReminderAction.done.rawValue)), ["shown 1000500", "done 1100000"])
        XCTAssertEqual(msOf(reports(ReminderAction.skip.rawValue)), ["shown 1000500", "skipped 1100000"])
        XCTAssertEqual(msOf(reports(ReminderAction.snooze.rawValue)), ["shown 1000500", "snoozed 1700000"])
        XCTAssertEqual(msOf(reports(ReminderAction.snooze.rawValue, minutes: 0)).last, "snoozed 1160000")
        // Answered before it was due (a clock change): the snooze still ends after the due time.
        XCTAssertEqual(msOf(reports(ReminderAction.snooze.rawValue, now: instant(ms: 10_000))).last, "snoozed 1600000")
        // Opening the app or dismissing only reports that it was shown.
        XCTAssertEqual(msOf(reports("com.apple.UNNotificationDefaultActionIdentifier")), ["shown 1000500"])
        XCTAssertEqual(msOf(reports("com.apple.UNNotificationDismissActionIdentifier")), ["shown 1000500"])
        XCTAssertEqual(Set(ReminderAction.allCases.map(\.rawValue)).count, 3)
    }

    func testHandlingAnActionReportsItAndReapplies() async throws {
        let r = try await makeReminders()
        let rule = try await r.add(reminder: daily(["09:00"]))
        let scheduler = FakeScheduler()
        let clock = Locked(now)
        let applier = makeApplier(r, scheduler, zone: utcZone, clock: clock)
        try await applier.apply()
        let plan = try await plan(r, zone: utcZone)
        XCTAssertEqual(scheduler.pendingIds, Set(plan.map(\.id)))

        // The first is delivered at 09:00; the patient snoozes it at 09:02.
        let first = ReminderNotificationInfo(plan[0])
        let deliveredAt = plan[0].fireAt
        clock.withValue { $0 = deliveredAt.shifted(120) }
        scheduler.removePending(identifiers: [plan[0].id])  // the OS delivered it
        let snoozed = try await applier.handle(actionIdentifier: ReminderAction.snooze.rawValue, info: first, deliveredAt: deliveredAt)
        XCTAssertEqual(snoozed.add.count, 2, "the snoozed one, and a new day at the end of the horizon")
        let again = try XCTUnwrap(snoozed.add.first { $0.info == first })
        XCTAssertEqual(again.fireDate, deliveredAt.shifted(120 + 600))

        // Delivered again, then done.
        clock.withValue { $0 = again.fireDate.shifted(60) }
        scheduler.removePending(identifiers: [again.identifier])
        let done = try await applier.handle(actionIdentifier: ReminderAction.done.rawValue, info: first, deliveredAt: again.fireDate)
        XCTAssertFalse(done.add.contains { $0.info == first })
        XCTAssertFalse(scheduler.state.current.scheduled.values.contains { $0.info == first })

        let report = try await r.adherence(from: now, to: now.shifted(day), now: now.shifted(day), deviceZone: utcZone)
        XCTAssertEqual(report.rules, [Adherence(key: rule.id.value, due: 1, shown: 1, late: 0, notShown: 0, done: 1, skipped: 0, missed: 0)])
    }

    func testDeliveredRemindersAreReportedShownOnce() async throws {
        let r = try await makeReminders()
        let rule = try await r.add(reminder: daily(["09:00"]))
        let plan = try await plan(r, zone: utcZone)
        let scheduler = FakeScheduler()
        let late = plan[0].fireAt.shifted(20 * minute)
        scheduler.state.withValue { s in
            s.delivered = [
                (ReminderNotificationInfo(plan[0]), plan[0].id, late),
                (ReminderNotificationInfo(occurrence: "garbage", due: instant(ms: 0), reminderId: ReminderId("x")), "cairn-garbage", late),
            ]
        }
        let clock = Locked(late)
        let applier = makeApplier(r, scheduler, zone: utcZone, clock: clock)
        try await applier.apply()
        try await applier.apply()
        let report = try await r.adherence(from: now, to: now.shifted(day), now: now.shifted(day), deviceZone: utcZone)
        XCTAssertEqual(report.rules, [Adherence(key: rule.id.value, due: 1, shown: 1, late: 1, notShown: 0, done: 0, skipped: 0, missed: 1)])
        try await applier.presented(info: ReminderNotificationInfo(plan[1]), at: plan[1].fireAt)
        let two = try await r.adherence(from: now, to: now.shifted(2 * day), now: now.shifted(2 * day), deviceZone: utcZone)
        XCTAssertEqual(two.rules.first?.shown, 2)
        XCTAssertEqual(two.rules.first?.late, 1)
    }

    func testApplyFollowsTheDeviceZone() async throws {
        let r = try await makeReminders()
        _ = try await r.add(reminder: daily(["09:00"]))
        let device = Locked(zone("America/Chicago"))
        let scheduler = FakeScheduler()
        let applier = NotificationPlanApplier(
            reminders: r, scheduler: scheduler, differ: ReminderPlanDiffer(horizonDays: 2),
            deviceZone: { device.current }, clock: { utc("2026-07-15T00:00") })
        let chicago = try await applier.apply()
        XCTAssertEqual(chicago.add.first?.fireDate, utc("2026-07-15T14:00"))
        device.withValue { $0 = zone("Europe/Lisbon") }  // NSSystemTimeZoneDidChange
        let lisbon = try await applier.apply()
        XCTAssertEqual(lisbon.remove.count, 2)
        XCTAssertEqual(lisbon.add.first?.fireDate, utc("2026-07-15T08:00"))

        device.withValue { $0 = fixedOffsetZone }
        do {
            try await applier.apply()
            XCTFail("a device zone the journal lacks throws")
        } catch let error as CairnError {
            XCTAssertEqual(error, .unknownZone(field: "deviceZone"))
        }
        XCTAssertEqual(scheduler.pendingIds.count, 2, "left as it was")
    }

    func testSchedulerErrorsAreThrownAfterTheRest() async throws {
        let r = try await makeReminders()
        _ = try await r.add(reminder: daily(["09:00"]))
        let plan = try await plan(r, zone: utcZone)
        let scheduler = FakeScheduler()
        scheduler.state.withValue { $0.failing = [plan[1].id] }
        let applier = makeApplier(r, scheduler, zone: utcZone)
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
        let journal = try await makeJournal()
        let r = try journal.reminders()
        for t in ["08:00", "12:00", "18:00"] { _ = try await r.add(reminder: daily([t])) }
        let scheduler = FakeScheduler()
        let applier = makeApplier(r, scheduler)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { try await applier.apply() } }
            try await group.waitForAll()
        }
        let plan = try await plan(r, zone: paris)
        XCTAssertEqual(scheduler.pendingIds, Set(plan.map(\.id)))
        XCTAssertEqual(scheduler.state.current.scheduleCalls, plan.count, "each scheduled once: applies ran one at a time")

        try await journal.close()
        do {
            try await applier.apply()
            XCTFail("a closed journal throws")
        } catch let error as CairnError {
            XCTAssertEqual(error, .closed)
        }
    }

    /// The applier awaits the journal: many applies at once, more than the
    /// cooperative pool has threads, all finish (none waits on a blocked
    /// thread), and an apply whose caller is cancelled still ends in the plan.
    func testAppliesNeverBlockTheCooperativePool() async throws {
        let r = try await makeReminders()
        _ = try await r.add(reminder: daily(["09:00", "21:00"]))
        let scheduler = FakeScheduler()
        let applier = makeApplier(r, scheduler, zone: utcZone)
        try await withDeadline(60, "64 applies at once") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<64 { group.addTask { try await applier.apply() } }
                try await group.waitForAll()
            }
        }
        let cancelled = Task { try await applier.apply() }
        cancelled.cancel()
        _ = try? await cancelled.value
        let settled = try await applier.apply()
        XCTAssertTrue(settled.isEmpty)
        let plan = try await plan(r, zone: utcZone)
        XCTAssertEqual(scheduler.pendingIds, Set(plan.map(\.id)))
    }
}
