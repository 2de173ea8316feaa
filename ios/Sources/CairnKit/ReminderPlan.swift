import Cairn
import Foundation
#if canImport(os)
import os
#endif

/// Names the damaged records a plan skipped, in the unified log on Apple
/// platforms and on standard error elsewhere: ids only, public.
func logSkipped(_ records: [RecordRef]) {
    let ids = records.map { "\($0.table)/\($0.id)" }.joined(separator: ", ")
    #if canImport(os)
    Logger(subsystem: "app.cairn", category: "reminders")
        .warning("plan skipped \(records.count) damaged record(s): \(ids, privacy: .public)")
    #else
    FileHandle.standardError.write(Data("cairn: plan skipped \(records.count) damaged record(s): \(ids)\n".utf8))
    #endif
}

// The platform-independent half of applying the reminders plan to the OS:
// which pending requests to cancel, which to schedule, what each carries, and
// what a tap on a delivered reminder reports. UserNotifications glue is in
// NotificationPlanApplier+UserNotifications.swift (Apple platforms only);
// everything here also builds and is tested on Linux.

/// A pending notification request as the OS holds it: only what the diff
/// needs.
public struct PendingReminderRequest: Equatable, Sendable {
    /// The request's identifier.
    public var identifier: String
    /// Its lock-screen title.
    public var title: String
    /// Its lock-screen body.
    public var body: String

    public init(identifier: String, title: String, body: String) {
        self.identifier = identifier
        self.title = title
        self.body = body
    }
}

/// What a delivered reminder notification carries in its `userInfo`, so the
/// app can `report` what happened to the occurrence. Never shown.
public struct ReminderNotificationInfo: Equatable, Hashable, Sendable {
    /// `userInfo` key of the occurrence key (a `String`).
    public static let occurrenceKey = "cairn.occurrence"
    /// `userInfo` key of the time the occurrence was due, in milliseconds
    /// since 1970 (an `Int64`: requests scheduled by earlier versions of the
    /// app carry the same).
    public static let dueMsKey = "cairn.dueMs"
    /// `userInfo` key of the rule's id (a `String`).
    public static let reminderIdKey = "cairn.reminderId"

    /// The occurrence key, as `Reminders.report(occurrence:due:report:)` takes it.
    public var occurrence: String
    /// When the occurrence was due (before quiet hours or a snooze moved it),
    /// to the millisecond.
    public var due: Date
    /// The rule.
    public var reminderId: ReminderId

    public init(occurrence: String, due: Date, reminderId: ReminderId) {
        self.occurrence = occurrence
        self.due = due
        self.reminderId = reminderId
    }

    public init(_ notification: PlannedNotification) {
        self.init(occurrence: notification.occurrence, due: notification.due, reminderId: notification.reminderId)
    }

    /// Reads a notification's `userInfo`; `nil` if it is not a Cairn reminder.
    public init?(userInfo: [AnyHashable: Any]) {
        guard let occurrence = userInfo[Self.occurrenceKey] as? String,
              let reminderId = userInfo[Self.reminderIdKey] as? String,
              let dueMs = Self.int64(userInfo[Self.dueMsKey])
        else { return nil }
        self.init(occurrence: occurrence, due: date(ms: dueMs), reminderId: ReminderId(reminderId))
    }

    /// Property-list values only, as `UNMutableNotificationContent.userInfo` requires.
    public var userInfo: [String: Any] {
        [Self.occurrenceKey: occurrence, Self.dueMsKey: NSNumber(value: ms(due)), Self.reminderIdKey: reminderId.value]
    }

    private static func int64(_ value: Any?) -> Int64? {
        switch value {
        case let v as Int64: return v
        case let v as Int: return Int64(v)
        case let v as NSNumber: return v.int64Value
        case let v as String: return Int64(v)
        default: return nil
        }
    }
}

/// One notification to schedule, in plain Foundation types.
public struct ReminderNotificationRequest: Equatable, Sendable {
    /// Groups Cairn's notifications in Notification Center.
    public static let threadIdentifier = "cairn.reminders"

    /// The plan's stable id: use it as the request identifier.
    public var identifier: String
    /// Lock-screen title: generic unless the patient chose to show the rule's title.
    public var title: String
    /// Lock-screen body: generic.
    public var body: String
    /// When to show it.
    public var fireDate: Date
    /// What the delegate reports against.
    public var info: ReminderNotificationInfo

    public init(_ notification: PlannedNotification) {
        identifier = notification.id
        title = notification.title
        body = notification.body
        fireDate = notification.fireAt
        info = ReminderNotificationInfo(notification)
    }

    /// `fireDate` as date components for `UNCalendarNotificationTrigger`:
    /// Gregorian, in UTC, with the calendar and the zone set. A trigger with
    /// a fixed zone fires at that instant whatever the device's zone; the
    /// plan is re-applied after a zone change, which moves the reminders
    /// that follow the device.
    public var triggerDateComponents: DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        let utc = TimeZone(identifier: "UTC")!
        calendar.timeZone = utc
        var c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: fireDate)
        c.calendar = calendar
        c.timeZone = utc
        return c
    }

    /// Seconds from `now` to `fireDate`, at least 1 (what
    /// `UNTimeIntervalNotificationTrigger` takes, if an app prefers it).
    public func timeInterval(from now: Date) -> TimeInterval {
        max(1, fireDate.timeIntervalSince(now))
    }
}

/// What applying the plan changes in the OS.
public struct ReminderPlanChanges: Equatable, Sendable {
    /// Pending Cairn requests to cancel (no longer planned).
    public var remove: [String]
    /// Requests to schedule: new ones, and held ones whose text changed
    /// (scheduling an identifier again replaces the pending request).
    public var add: [ReminderNotificationRequest]
    /// How many notifications the plan holds.
    public var planned: Int
    /// How many of the platform's slots other (non-Cairn) requests use.
    public var foreignPending: Int
    /// Damaged records the plan skipped (ids only: safe to log); every good
    /// rule is still planned.
    public var corrupted: [RecordRef] = []

    public var isEmpty: Bool { remove.isEmpty && add.isEmpty }
}

/// The pure logic of applying the plan: compares `Reminders.plan` with the
/// requests the OS holds. Never touches the OS, so it runs anywhere.
public struct ReminderPlanDiffer: Sendable {
    /// The prefix of every notification id the plan makes
    /// (`notificationIdPrefix()`). Pending requests without it belong to
    /// the rest of the app and are never cancelled.
    public static let identifierPrefix = notificationIdPrefix()

    /// How far ahead to plan, in days (1-62).
    public var horizonDays: Int32
    /// The platform's limits; `iosLimits()` by default.
    public var limits: PlatformLimits

    /// With `limits`; by default `iosLimits()`: 64 pending requests,
    /// delivered on time.
    public init(limits: PlatformLimits = iosLimits(), horizonDays: Int32 = 7) {
        self.limits = limits
        self.horizonDays = horizonDays
    }

    /// Whether a pending request was scheduled from the plan.
    public static func isReminder(_ identifier: String) -> Bool {
        identifier.hasPrefix(identifierPrefix)
    }

    /// The limits left for Cairn when the app holds `foreignPending` other
    /// requests: the OS limit (64 on iOS) counts all of the app's requests.
    public func limits(foreignPending: Int) -> PlatformLimits {
        PlatformLimits(
            maxPending: Int32(clamping: max(0, Int(limits.maxPending) - max(0, foreignPending))),
            exactAlarms: limits.exactAlarms,
            inexactWindowMinutes: limits.inexactWindowMinutes)
    }

    /// Plans from `now` in `deviceZone` and compares with `held`, all the
    /// app's pending requests. The plan is read on the journal's threads;
    /// cancelling the calling task stops it (`CancellationError`).
    public func changes(
        reminders: Reminders, deviceZone: TimeZone, now: Date, held: [PendingReminderRequest]
    ) async throws -> ReminderPlanChanges {
        let foreign = held.filter { !Self.isReminder($0.identifier) }.count
        let room = limits(foreignPending: foreign)
        let plan: ReminderPlan
        if room.maxPending == 0 {
            plan = ReminderPlan(notifications: [], corrupted: [])  // no slot left: cancel every Cairn request
        } else {
            plan = try await reminders.plan(
                now: now, deviceZone: deviceZone, limits: room, horizonDays: horizonDays)
        }
        var changes = try Self.changes(plan: plan.notifications, held: held)
        changes.corrupted = plan.corrupted
        return changes
    }

    /// Compares a plan with the pending requests (`diffPlan` on the Cairn
    /// ones), and re-schedules held requests whose title or body no longer
    /// match (the id covers the occurrence and its time, not its text: a
    /// rule whose title was shown and now is not keeps its ids).
    public static func changes(plan: [PlannedNotification], held: [PendingReminderRequest]) throws -> ReminderPlanChanges {
        let ours = held.filter { isReminder($0.identifier) }
        let diff = try diffPlan(plan: plan, heldIds: ours.map(\.identifier))
        let adding = Set(diff.add.map(\.id))
        var text: [String: (String, String)] = [:]
        for h in ours { text[h.identifier] = (h.title, h.body) }
        let add = plan.filter { n in
            if adding.contains(n.id) { return true }
            guard let (title, body) = text[n.id] else { return false }
            return title != n.title || body != n.body
        }
        return ReminderPlanChanges(
            remove: diff.remove,
            add: add.map(ReminderNotificationRequest.init),
            planned: plan.count,
            foreignPending: held.count - ours.count)
    }
}

/// The actions a reminder notification offers, and what each reports.
public enum ReminderAction: String, CaseIterable, Sendable {
    /// The patient did it.
    case done = "cairn.reminder.done"
    /// Show it again later.
    case snooze = "cairn.reminder.snooze"
    /// The patient chose to skip it.
    case skip = "cairn.reminder.skip"

    /// The category identifier of reminder notifications (for their actions).
    public static let categoryIdentifier = "cairn.reminder"

    /// What to report when the patient answers a notification delivered at
    /// `deliveredAt` with `actionIdentifier`, at `now`: always `shown` (at
    /// the delivery time), then `done`, `skipped` or `snoozed` (until
    /// `snoozeMinutes` after `now`, and after the time it was due). Any
    /// other action (opening the app, dismissing it) reports only `shown`.
    public static func reports(
        actionIdentifier: String, info: ReminderNotificationInfo,
        deliveredAt: Date, now: Date, snoozeMinutes: Int = 10
    ) -> [ReminderReport] {
        var out: [ReminderReport] = [.shown(at: deliveredAt)]
        switch ReminderAction(rawValue: actionIdentifier) {
        case .done: out.append(.done(at: now))
        case .skip: out.append(.skipped(at: now))
        case .snooze:
            let until = max(now, info.due) + TimeInterval(max(1, snoozeMinutes) * 60)
            out.append(.snoozed(until: until))
        case nil: break
        }
        return out
    }
}

/// Whole milliseconds since 1970, rounded as the core rounds a `Date`
/// (to the nearest).
func ms(_ date: Date) -> Int64 {
    Int64((date.timeIntervalSince1970 * 1000).rounded())
}

/// The `Date` of whole milliseconds since 1970, as the bindings return it
/// (the same `Double`, so that the two compare equal).
func date(ms: Int64) -> Date {
    Date(timeIntervalSince1970: Double(ms) / 1000)
}

/// Where pending notifications live: `UNUserNotificationCenter` on Apple
/// platforms, a fake in tests.
public protocol ReminderNotificationScheduler: AnyObject, Sendable {
    /// Every pending request of the app (Cairn's and others).
    func pendingRequests() async -> [PendingReminderRequest]
    /// Delivered Cairn reminders still in Notification Center, with the time
    /// each was shown.
    func deliveredReminders() async -> [(info: ReminderNotificationInfo, identifier: String, date: Date)]
    /// Cancels pending requests.
    func removePending(identifiers: [String])
    /// Schedules a request (replacing a pending one with its identifier).
    func schedule(_ request: ReminderNotificationRequest) async throws
}

/// Applies the reminders plan to the OS: reads the pending requests, plans
/// with `Reminders.plan` and the platform's limits, cancels stale requests
/// and schedules new ones. Call `apply()` at app start, after a zone or
/// clock change, when the app returns to the foreground and after each
/// `report`. Applies run one at a time, in the order they were asked for.
///
/// Every call into the journal is awaited: the applier never blocks a
/// thread of Swift's cooperative pool (the journal does its work on its own
/// threads).
public actor NotificationPlanApplier {
    public let reminders: Reminders
    public let scheduler: any ReminderNotificationScheduler
    public let differ: ReminderPlanDiffer
    private let deviceZone: @Sendable () -> TimeZone
    private let clock: @Sendable () -> Date
    private var last: Task<Void, Never>?
    private var reportedShown: Set<String> = []

    /// - Parameters:
    ///   - deviceZone: the device's zone now (read at each apply).
    ///   - clock: now (tests pass a fixed time).
    public init(
        reminders: Reminders,
        scheduler: any ReminderNotificationScheduler,
        differ: ReminderPlanDiffer = ReminderPlanDiffer(),
        deviceZone: @escaping @Sendable () -> TimeZone = { TimeZone.current },
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.reminders = reminders
        self.scheduler = scheduler
        self.differ = differ
        self.deviceZone = deviceZone
        self.clock = clock
    }

    /// Reports delivered reminders as shown, then brings the pending
    /// requests in line with the plan. Returns what changed. Throws
    /// `CairnError` (`.closed` once the journal is closed, `.unknownZone`
    /// when the device's zone is not in the journal's zone database) or the
    /// scheduler's first error (the other requests are still scheduled).
    ///
    /// An apply, once asked for, runs to its end: cancelling the calling
    /// task only stops the wait for its result.
    @discardableResult
    public func apply() async throws -> ReminderPlanChanges {
        let previous = last
        let run = Task { () async throws -> ReminderPlanChanges in
            await previous?.value
            return try await self.applyNow()
        }
        last = Task { _ = try? await run.value }
        return try await run.value
    }

    /// Reports what the patient did with a delivered reminder
    /// (`ReminderAction.reports`), then re-applies the plan.
    @discardableResult
    public func handle(
        actionIdentifier: String, info: ReminderNotificationInfo, deliveredAt: Date, snoozeMinutes: Int = 10
    ) async throws -> ReminderPlanChanges {
        let reports = ReminderAction.reports(
            actionIdentifier: actionIdentifier, info: info, deliveredAt: deliveredAt,
            now: clock(), snoozeMinutes: snoozeMinutes)
        for r in reports {
            try await reminders.report(occurrence: info.occurrence, due: info.due, report: r)
        }
        return try await apply()
    }

    /// Reports a reminder the OS showed while the app was in the foreground.
    public func presented(info: ReminderNotificationInfo, at date: Date) async throws {
        try await reminders.report(occurrence: info.occurrence, due: info.due, report: .shown(at: date))
    }

    private func applyNow() async throws -> ReminderPlanChanges {
        for d in await scheduler.deliveredReminders() where !reportedShown.contains(d.identifier) {
            // A key the core refuses is dropped, not a reason to stop applying.
            do {
                try await reminders.report(occurrence: d.info.occurrence, due: d.info.due, report: .shown(at: d.date))
                reportedShown.insert(d.identifier)
            } catch CairnError.invalidInput {
                reportedShown.insert(d.identifier)
            }
        }
        let held = await scheduler.pendingRequests()
        let changes = try await differ.changes(reminders: reminders, deviceZone: deviceZone(), now: clock(), held: held)
        if !changes.corrupted.isEmpty {
            // Damaged records were skipped and every good rule is scheduled
            // below; say which (table and random id only, never content).
            logSkipped(changes.corrupted)
        }
        if !changes.remove.isEmpty {
            scheduler.removePending(identifiers: changes.remove)
        }
        var firstError: (any Error)?
        for request in changes.add {
            do {
                try await scheduler.schedule(request)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        return changes
    }
}
