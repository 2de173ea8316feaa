#if canImport(UserNotifications)
import Cairn
import Foundation
import UserNotifications
#if canImport(UIKit)
import UIKit
#endif

/// `UNUserNotificationCenter` as the place pending reminders live.
public final class UserNotificationScheduler: ReminderNotificationScheduler, @unchecked Sendable {
    public let center: UNUserNotificationCenter

    public init(center: UNUserNotificationCenter = .current()) {
        self.center = center
    }

    public func pendingRequests() async -> [PendingReminderRequest] {
        await center.pendingNotificationRequests().map {
            PendingReminderRequest(identifier: $0.identifier, title: $0.content.title, body: $0.content.body)
        }
    }

    public func deliveredReminders() async -> [(info: ReminderNotificationInfo, identifier: String, date: Date)] {
        await center.deliveredNotifications().compactMap { n in
            guard ReminderPlanDiffer.isReminder(n.request.identifier),
                  let info = ReminderNotificationInfo(userInfo: n.request.content.userInfo)
            else { return nil }
            return (info: info, identifier: n.request.identifier, date: n.date)
        }
    }

    public func removePending(identifiers: [String]) {
        center.removePendingNotificationRequests(withIdentifiers: identifiers)
    }

    public func schedule(_ request: ReminderNotificationRequest) async throws {
        let content = UNMutableNotificationContent()
        content.title = request.title  // generic unless the patient opted in
        content.body = request.body
        content.sound = .default
        content.threadIdentifier = ReminderNotificationRequest.threadIdentifier
        content.categoryIdentifier = ReminderAction.categoryIdentifier
        content.userInfo = request.info.userInfo
        // Fixed in time (the components carry UTC): the plan already chose
        // the instant, in the rule's zone or the device's.
        let trigger = UNCalendarNotificationTrigger(dateMatching: request.triggerDateComponents, repeats: false)
        try await center.add(UNNotificationRequest(identifier: request.identifier, content: content, trigger: trigger))
    }
}

extension ReminderAction {
    /// The notification category with Done, Snooze and Skip. Register it
    /// with the app's other categories (`setNotificationCategories`
    /// replaces them all). The titles are generic, like the notifications.
    public static func notificationCategory(
        doneTitle: String = "Done", snoozeTitle: String = "Snooze", skipTitle: String = "Skip"
    ) -> UNNotificationCategory {
        UNNotificationCategory(
            identifier: categoryIdentifier,
            actions: [
                UNNotificationAction(identifier: ReminderAction.done.rawValue, title: doneTitle, options: []),
                UNNotificationAction(identifier: ReminderAction.snooze.rawValue, title: snoozeTitle, options: []),
                UNNotificationAction(identifier: ReminderAction.skip.rawValue, title: skipTitle, options: []),
            ],
            intentIdentifiers: [],
            options: [])
    }
}

extension NotificationPlanApplier {
    /// Applies the plan to `center` with `iosLimits()`, in the device's
    /// current zone.
    public init(reminders: Reminders, center: UNUserNotificationCenter = .current(), horizonDays: Int32 = 7) {
        self.init(
            reminders: reminders,
            scheduler: UserNotificationScheduler(center: center),
            differ: ReminderPlanDiffer(horizonDays: horizonDays))
    }

    /// For `userNotificationCenter(_:willPresent:)`: reports a reminder shown
    /// while the app is in the foreground. Other notifications are ignored.
    public nonisolated func presented(_ notification: UNNotification) async {
        guard let info = ReminderNotificationInfo(userInfo: notification.request.content.userInfo) else { return }
        try? await presented(info: info, at: notification.date)
    }

    /// For `userNotificationCenter(_:didReceive:)`: reports shown, then done,
    /// skipped or snoozed for the reminder actions, and re-applies the plan.
    /// Returns `nil` for a notification that is not a Cairn reminder.
    @discardableResult
    public nonisolated func handle(_ response: UNNotificationResponse, snoozeMinutes: Int = 10) async throws -> ReminderPlanChanges? {
        let n = response.notification
        guard let info = ReminderNotificationInfo(userInfo: n.request.content.userInfo) else { return nil }
        return try await handle(
            actionIdentifier: response.actionIdentifier, info: info, deliveredAt: n.date, snoozeMinutes: snoozeMinutes)
    }
}

/// Re-applies the plan when the time it was made for changes: the device's
/// zone (`NSSystemTimeZoneDidChange`), the clock (`NSSystemClockDidChange`),
/// a significant time change (midnight, a DST transition, a carrier time
/// update) and the return to the foreground (changes while suspended).
/// Keep it alive as long as the applier.
public final class ReminderPlanRefresher {
    private let observers: [any NSObjectProtocol]
    private let center: NotificationCenter

    public init(applier: NotificationPlanApplier, center: NotificationCenter = .default) {
        self.center = center
        var names: [Notification.Name] = [.NSSystemTimeZoneDidChange, .NSSystemClockDidChange]
        #if canImport(UIKit) && !os(watchOS)
        names += [UIApplication.significantTimeChangeNotification, UIApplication.willEnterForegroundNotification]
        #endif
        observers = names.map { name in
            center.addObserver(forName: name, object: nil, queue: nil) { note in
                if note.name == .NSSystemTimeZoneDidChange {
                    NSTimeZone.resetSystemTimeZone()  // TimeZone.current is cached
                }
                Task.detached { _ = try? await applier.apply() }
            }
        }
    }

    deinit {
        for o in observers { center.removeObserver(o) }
    }
}
#endif
