import Cairn
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What one `ClinicSyncRunner.syncNow` (or `enroll`) did, summed over its
/// rounds. Counts and codes only, never content: safe to log.
public struct SyncSummary: Sendable, Equatable {
    /// HTTP exchanges made (each one request and its reply).
    public var rounds: Int
    /// Changes sent.
    public var sent: Int
    /// Changes received from the clinic and the patient's other devices.
    public var pulled: Int
    /// Changes the clinic refused (listed in `sync.log(limit:)`).
    public var rejected: Int
    /// Conflict versions created (see `sync.conflicts()`).
    public var conflicts: Int
    /// The last sequence number the clinic has applied from this device.
    public var acknowledged: Int64
    /// The clinic's refusals the runner answered by sending again at once
    /// (`gap`, `sequence_reused`, `unknown_key`, `replayed`, `stale`, and
    /// `stale_reply`), in order.
    public var refusalsRetried: [String]
    /// True when the loop stopped at `maxRounds` while the core still had
    /// more to send or receive: call `syncNow` again.
    public var more: Bool

    public init(
        rounds: Int = 0, sent: Int = 0, pulled: Int = 0, rejected: Int = 0, conflicts: Int = 0,
        acknowledged: Int64 = 0, refusalsRetried: [String] = [], more: Bool = false
    ) {
        self.rounds = rounds
        self.sent = sent
        self.pulled = pulled
        self.rejected = rejected
        self.conflicts = conflicts
        self.acknowledged = acknowledged
        self.refusalsRetried = refusalsRetried
        self.more = more
    }
}

/// The clinic could not be reached, or answered with an HTTP status other
/// than 200 (a proxy, a load balancer, the server's own 408, 413, 500, or
/// 503 when its database stayed locked). Nothing was applied on the device;
/// the next sync sends again what the clinic has not acknowledged. Retry
/// later (`retryAfterSeconds` when the server said when).
public struct ClinicUnreachable: Error, Sendable, Equatable, LocalizedError, CustomStringConvertible {
    /// The HTTP status, or nil when there was no HTTP answer (no network, a timeout, TLS).
    public let httpStatus: Int?
    /// The server's `Retry-After`, in seconds, when it sent one.
    public let retryAfterSeconds: Int64?
    /// A plain sentence (no content).
    public let reason: String

    public init(httpStatus: Int?, retryAfterSeconds: Int64?, reason: String) {
        self.httpStatus = httpStatus
        self.retryAfterSeconds = retryAfterSeconds
        self.reason = reason
    }

    public var errorDescription: String? { reason }
    public var description: String { reason }
}

/// What a background scheduler should do after a failed sync
/// (`ClinicSyncRunner.failureAction(for:)`).
public enum SyncFailureAction: Sendable, Equatable {
    /// Waiting may fix it (network, a busy or failing server, a garbled reply): try again later.
    case retry
    /// Only a person can fix it (revoked, withdrawn, not enrolled, a new code or an app update needed): stop.
    case stop
}

/// The sync loop: `prepare()` → POST with `URLSession` → `receive(...)`,
/// again while the core says `more`. Cancelling the calling `Task` cancels
/// the request in flight (nothing is lost: a reply never applied is sent for
/// again).
///
/// ```swift
/// let sync = try journal.sync()
/// try await ClinicSyncRunner.enroll(sync, code: code, sharing: [.ratings, .notes])
/// // later, in the background (ClinicSyncTask does this):
/// let summary = try await ClinicSyncRunner.syncNow(sync)
/// ```
///
/// Errors: `ClinicUnreachable` (no network, an HTTP status other than 200:
/// retry later), `CairnError.serverBusy` (its `retryAfterSeconds`),
/// `.deviceRevoked` and `.notEnrolled` (stop syncing), the enrollment errors
/// from `enroll`, `.badReply`, `.protocolIncompatible`, and `.syncRefused`
/// when a refusal does not go away by sending again.
/// `failureAction(for:)` sorts them for a scheduler.
public enum ClinicSyncRunner {
    /// How long a request may wait for the server's next bytes.
    public static let requestTimeout: TimeInterval = 60
    /// How long one exchange may take in all.
    public static let exchangeTimeout: TimeInterval = 120
    /// The largest reply accepted (a real one is at most a few hundred KiB).
    public static let maxReplyBytes = 8 * 1024 * 1024
    /// How many refusals in a row the loop answers by sending again before it gives up.
    public static let refusalRetries = 4
    /// Refusals the core has already answered (it adjusted what it sends): send again at once.
    public static let retriedRefusals: Set<String> = ["gap", "sequence_reused", "unknown_key", "replayed", "stale"]

    /// Syncs until neither side has more: sends what the patient logged and
    /// shares, receives what the patient's other devices sent to the clinic.
    ///
    /// - Parameters:
    ///   - serverOverride: a base URL (`https://host[:port][/path]`) to use
    ///     instead of the one in the enrollment code (a simulator reaching a
    ///     development server, a test proxy); nil: the code's.
    ///   - maxRounds: the most HTTP exchanges; past it the summary says
    ///     `more` and the rest waits for the next call.
    /// - Returns: the totals; `more` is true only when `maxRounds` stopped it.
    @discardableResult
    public static func syncNow(
        _ sync: ClinicSync, serverOverride: URL? = nil, maxRounds: Int = 200
    ) async throws -> SyncSummary {
        try await run(sync, first: nil, serverOverride: serverOverride, maxRounds: maxRounds)
    }

    /// Enrolls this journal with the clinic with the code the patient was
    /// given (`CAIRN1…`, checked first with `checkEnrollmentCode(code:)`),
    /// sharing `sharing`, then runs `syncNow` (what was logged before is
    /// sent). A failure in transit (`ClinicUnreachable`, `.serverBusy`)
    /// leaves the enrollment pending: the next `syncNow` sends it again. The
    /// clinic's refusals arrive as `.enrollmentUsed`, `.enrollmentExpired`,
    /// `.enrollmentRevoked` (ask the clinic for a new code).
    @discardableResult
    public static func enroll(
        _ sync: ClinicSync, code: String, sharing: [SharingCategory],
        serverOverride: URL? = nil, maxRounds: Int = 200
    ) async throws -> SyncSummary {
        let first = try await sync.enroll(code: code, sharing: sharing)
        return try await run(sync, first: first, serverOverride: serverOverride, maxRounds: maxRounds)
    }

    /// Tells the clinic the patient withdraws and applies its answer: this
    /// journal stops syncing (`status().enrollment` is `.withdrawn`); entries
    /// stay on the device. When the clinic cannot be reached, `sync.forget()`
    /// stops on this device only.
    @discardableResult
    public static func withdraw(_ sync: ClinicSync, serverOverride: URL? = nil) async throws -> SyncOutcome {
        let request = try await sync.withdraw()
        let session = makeSession()
        defer { session.finishTasksAndInvalidate() }
        let reply = try await post(request, to: try await target(sync, request, serverOverride), session: session)
        return try await sync.receive(requestId: request.requestId, reply: reply)
    }

    /// What a scheduler should do after `error` ended a sync: `.retry` for
    /// what time may fix (the network, HTTP errors, a busy server, a reply
    /// that failed its checks, a closed journal, storage errors), otherwise
    /// `.stop` (revoked, withdrawn or never enrolled, an enrollment code
    /// refused, another protocol version, a wrong key or damaged store, a
    /// refusal that means a bug on one side).
    public static func failureAction(for error: any Error) -> SyncFailureAction {
        if error is ClinicUnreachable || error is URLError { return .retry }
        guard let error = error as? CairnError else { return .stop }
        switch error {
        case .serverBusy, .badReply, .staleReply, .closed, .storage, .io:
            return .retry
        case let .syncRefused(reason):
            return retriedRefusals.contains(reason) ? .retry : .stop
        default:
            return .stop
        }
    }

    /// Seconds to wait before the next try, when the failure says
    /// (`.serverBusy`, an HTTP `Retry-After`).
    public static func retryAfterSeconds(for error: any Error) -> Int64? {
        if case let .serverBusy(seconds)? = error as? CairnError { return seconds }
        return (error as? ClinicUnreachable)?.retryAfterSeconds
    }

    // MARK: - the loop

    private static func run(
        _ sync: ClinicSync, first: SyncRequest?, serverOverride: URL?, maxRounds: Int
    ) async throws -> SyncSummary {
        guard maxRounds >= 1 else {
            throw CairnError.invalidInput(field: "maxRounds", reason: "must be at least 1")
        }
        let session = makeSession()
        defer { session.finishTasksAndInvalidate() }
        var summary = SyncSummary()
        var refusalsInARow = 0
        var next = first
        if next == nil { next = try await sync.prepare() }
        while let request = next {
            if summary.rounds == maxRounds {
                summary.more = true
                break
            }
            summary.rounds += 1
            let reply = try await post(request, to: try await target(sync, request, serverOverride), session: session)
            let outcome: SyncOutcome
            do {
                outcome = try await sync.receive(requestId: request.requestId, reply: reply)
            } catch let error as CairnError {
                // The core has already adjusted what it sends (renumbered,
                // taken new keys, corrected its clock): send again at once,
                // a few times. A stale reply (another sync of this journal
                // prepared requests meanwhile) is the same: send again.
                let reason: String
                switch error {
                case let .syncRefused(r) where retriedRefusals.contains(r): reason = r
                case .staleReply: reason = "stale_reply"
                default: throw error
                }
                if refusalsInARow == refusalRetries { throw error }
                refusalsInARow += 1
                summary.refusalsRetried.append(reason)
                next = try await sync.prepare()
                continue
            }
            refusalsInARow = 0
            summary.sent += Int(outcome.sent)
            summary.pulled += Int(outcome.pulled)
            summary.rejected += Int(outcome.rejected)
            summary.conflicts += Int(outcome.conflicts)
            summary.acknowledged = outcome.acknowledged
            if !outcome.more { break }
            next = try await sync.prepare()
        }
        return summary
    }

    /// The request's URL, on `serverOverride` when given (the path after the
    /// code's base is kept).
    private static func target(_ sync: ClinicSync, _ request: SyncRequest, _ serverOverride: URL?) async throws -> URL {
        var text = request.url
        if let serverOverride {
            let base = trimmingSlashes(try await sync.status().serverUrl)
            let rest = text.hasPrefix(base) ? String(text.dropFirst(base.count)) : (URL(string: text)?.path ?? "")
            text = trimmingSlashes(serverOverride.absoluteString) + rest
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http"
        else {
            throw ClinicUnreachable(httpStatus: nil, retryAfterSeconds: nil, reason: "the clinic's address is not an http(s) URL")
        }
        return url
    }

    private static func trimmingSlashes(_ s: String) -> String {
        var s = Substring(s)
        while s.hasSuffix("/") { s = s.dropLast() }
        return String(s)
    }

    // MARK: - HTTP

    private static func makeSession() -> URLSession {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = requestTimeout
        configuration.timeoutIntervalForResource = exchangeTimeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        return URLSession(configuration: configuration)
    }

    /// POSTs the request's body and returns the reply's bytes (HTTP 200
    /// only; any other status is `ClinicUnreachable` and its body is not
    /// looked at).
    private static func post(_ request: SyncRequest, to url: URL, session: URLSession) async throws -> Data {
        var http = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: requestTimeout)
        http.httpMethod = "POST"
        http.setValue(request.contentType, forHTTPHeaderField: "Content-Type")
        http.setValue(request.contentType, forHTTPHeaderField: "Accept")
        http.httpBody = request.body
        let (data, response) = try await exchange(http, session: session)
        guard let response = response as? HTTPURLResponse else {
            throw ClinicUnreachable(httpStatus: nil, retryAfterSeconds: nil, reason: "the clinic's server did not answer over HTTP")
        }
        guard response.statusCode == 200 else {
            let retryAfter = header("Retry-After", in: response).flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
                .flatMap { $0 >= 0 ? $0 : nil }
            throw ClinicUnreachable(
                httpStatus: response.statusCode, retryAfterSeconds: retryAfter,
                reason: "the clinic's server answered HTTP \(response.statusCode)"
                    + (retryAfter.map { "; retry after \($0) s" } ?? ""))
        }
        guard data.count <= maxReplyBytes else {
            throw ClinicUnreachable(httpStatus: 200, retryAfterSeconds: nil, reason: "the reply is larger than \(maxReplyBytes) bytes")
        }
        return data
    }

    private static func header(_ name: String, in response: HTTPURLResponse) -> String? {
        for (key, value) in response.allHeaderFields {
            if let key = key as? String, key.caseInsensitiveCompare(name) == .orderedSame {
                return value as? String
            }
        }
        return nil
    }

    /// One data task, cancelled with the calling Task (then
    /// `CancellationError`); transport failures are `ClinicUnreachable`.
    private static func exchange(_ request: URLRequest, session: URLSession) async throws -> (Data, URLResponse) {
        let handle = TaskHandle()
        let result: Result<(Data, URLResponse), any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<(Data, URLResponse), any Error>, Never>) in
                let task = session.dataTask(with: request) { data, response, error in
                    if let error {
                        continuation.resume(returning: .failure(error))
                    } else if let response {
                        continuation.resume(returning: .success((data ?? Data(), response)))
                    } else {
                        continuation.resume(returning: .failure(URLError(.badServerResponse)))
                    }
                }
                handle.start(task)
            }
        } onCancel: {
            handle.cancel()
        }
        switch result {
        case let .success(value):
            return value
        case let .failure(error):
            if Task.isCancelled { throw CancellationError() }
            let code = (error as? URLError).map { " (URLError \($0.code.rawValue))" } ?? ""
            throw ClinicUnreachable(httpStatus: nil, retryAfterSeconds: nil, reason: "could not reach the clinic\(code)")
        }
    }
}

/// The data task of one exchange, for the cancellation handler (which may
/// run before the task exists, or on another thread).
private final class TaskHandle: @unchecked Sendable {
    private let lock = NSLock()
    private var task: URLSessionDataTask?
    private var cancelled = false

    func start(_ task: URLSessionDataTask) {
        lock.lock()
        self.task = task
        let cancelled = self.cancelled
        lock.unlock()
        task.resume()
        if cancelled { task.cancel() }
    }

    func cancel() {
        lock.lock()
        cancelled = true
        let task = self.task
        lock.unlock()
        task?.cancel()
    }
}
