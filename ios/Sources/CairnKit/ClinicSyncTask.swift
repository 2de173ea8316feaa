// Background sync on iOS: a BGAppRefreshTask that runs
// ClinicSyncRunner.syncNow. BackgroundTasks exists on iOS (and Mac
// Catalyst) only: elsewhere, Linux included, this file is empty. It is not
// compiled by tests/swift.sh (Linux); the loop it runs is.
#if canImport(BackgroundTasks) && os(iOS)
import BackgroundTasks
import Cairn
import Foundation

/// Syncs with the clinic in the background, as a `BGAppRefreshTask`.
///
/// The app's Info.plist must list the identifier and the background mode,
/// or `register` returns false and `schedule` throws:
///
/// ```xml
/// <key>BGTaskSchedulerPermittedIdentifiers</key>
/// <array><string>app.cairn.clinic-sync</string></array>
/// <key>UIBackgroundModes</key>
/// <array><string>fetch</string></array>
/// ```
///
/// Register once, before the app finishes launching (`App.init`, or
/// `application(_:didFinishLaunchingWithOptions:)`), then schedule:
///
/// ```swift
/// ClinicSyncTask.register { try await AppJournal.shared.journal() }   // nil: nothing to sync
/// try? ClinicSyncTask.schedule()
/// ```
///
/// Each run schedules the next one first, then syncs; when iOS ends the
/// task's time (`expirationHandler`) the sync's `Task` is cancelled, the
/// HTTP request in flight with it (nothing is lost: what the clinic has not
/// acknowledged is sent again next time). iOS decides when a refresh runs
/// (`earliestBeginDate` is the earliest, not a promise), and never after the
/// patient force-quit the app: sync also when the app comes to the
/// foreground and after the patient logs something.
public enum ClinicSyncTask {
    /// The task identifier: list it in Info.plist under `BGTaskSchedulerPermittedIdentifiers`.
    public static let identifier = "app.cairn.clinic-sync"
    /// The default delay before the next refresh may run.
    public static let defaultInterval: TimeInterval = 15 * 60

    /// Registers the handler for `identifier`. Returns false when the
    /// identifier is missing from Info.plist. `journal` returns the app's
    /// open journal, or nil when there is none to sync (no journal yet,
    /// signed out); the task never closes it.
    @discardableResult
    public static func register(
        identifier: String = identifier,
        serverOverride: URL? = nil,
        interval: TimeInterval = defaultInterval,
        journal: @escaping @Sendable () async throws -> Journal?
    ) -> Bool {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            run(CompletedOnce(task), identifier: identifier, serverOverride: serverOverride, interval: interval, journal: journal)
        }
    }

    /// Asks iOS for a refresh no earlier than `interval` from now (a pending
    /// request with the same identifier is replaced).
    public static func schedule(identifier: String = identifier, interval: TimeInterval = defaultInterval) throws {
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: interval)
        try BGTaskScheduler.shared.submit(request)
    }

    /// Cancels the pending refresh (sign-out, after withdrawing).
    public static func cancel(identifier: String = identifier) {
        BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: identifier)
    }

    private static func run(
        _ task: CompletedOnce, identifier: String, serverOverride: URL?, interval: TimeInterval,
        journal: @escaping @Sendable () async throws -> Journal?
    ) {
        // The next refresh first: this one may be cut short.
        try? schedule(identifier: identifier, interval: interval)
        let work = Task<Bool, Never> {
            do {
                guard let journal = try await journal() else { return true }
                // The rules that depend on time passing (no check-ins, a
                // sharp fall) run here, so that silence is noticed even when
                // the app is not opened, and what they raise goes with this sync.
                _ = try await journal.checkFlags()
                let sync = try journal.sync()
                var summary = try await ClinicSyncRunner.syncNow(sync, serverOverride: serverOverride)
                // A backlog larger than one syncNow: go on while time lasts.
                while summary.more && !Task.isCancelled {
                    summary = try await ClinicSyncRunner.syncNow(sync, serverOverride: serverOverride)
                }
                return true
            } catch {
                if case .stop = ClinicSyncRunner.failureAction(for: error) {
                    switch error as? CairnError {
                    case .deviceRevoked?, .notEnrolled?:
                        cancel(identifier: identifier)  // nothing to sync any more
                    default:
                        break
                    }
                }
                return false
            }
        }
        task.onExpiration { work.cancel() }
        Task {
            let success = await work.value
            task.complete(success: success)
        }
    }
}

/// The system's task, completed once (by the sync or by its expiration),
/// shared with the sync's `Task` (a `BGTask` is not `Sendable`; it is only
/// touched through this lock).
private final class CompletedOnce: @unchecked Sendable {
    private let lock = NSLock()
    private let task: BGTask
    private var done = false

    init(_ task: BGTask) {
        self.task = task
    }

    func onExpiration(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        task.expirationHandler = { [self] in
            handler()
            complete(success: false)
        }
    }

    func complete(success: Bool) {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        task.setTaskCompleted(success: success)
    }
}
#endif
