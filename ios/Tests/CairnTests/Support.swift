import Cairn
import Foundation
import XCTest

/// The kinds of `CairnError`, without their fields.
enum ErrorKind: Equatable, CaseIterable {
    case invalidInput, keyLength, unknownZone, unknownTracker, duplicateTracker, wrongKey, corrupted
    case storeExists, storeNotFound, notAStore, incompatible, notFound, closed, storage, io, `internal`
    // Sync (ClinicSyncTests).
    case notEnrolled, alreadyEnrolled, enrollmentUsed, enrollmentExpired, enrollmentRevoked, deviceRevoked
    case syncRefused, badReply, staleReply, serverBusy, protocolIncompatible
}

extension CairnError {
    var kind: ErrorKind {
        switch self {
        case .invalidInput: return .invalidInput
        case .keyLength: return .keyLength
        case .unknownZone: return .unknownZone
        case .unknownTracker: return .unknownTracker
        case .duplicateTracker: return .duplicateTracker
        case .wrongKey: return .wrongKey
        case .corrupted: return .corrupted
        case .storeExists: return .storeExists
        case .storeNotFound: return .storeNotFound
        case .notAStore: return .notAStore
        case .incompatible: return .incompatible
        case .notFound: return .notFound
        case .closed: return .closed
        case .storage: return .storage
        case .io: return .io
        case .internal: return .internal
        case .notEnrolled: return .notEnrolled
        case .alreadyEnrolled: return .alreadyEnrolled
        case .enrollmentUsed: return .enrollmentUsed
        case .enrollmentExpired: return .enrollmentExpired
        case .enrollmentRevoked: return .enrollmentRevoked
        case .deviceRevoked: return .deviceRevoked
        case .syncRefused: return .syncRefused
        case .badReply: return .badReply
        case .staleReply: return .staleReply
        case .serverBusy: return .serverBusy
        case .protocolIncompatible: return .protocolIncompatible
        }
    }

    /// The field an `invalidInput` or `unknownZone` names.
    var field: String? {
        switch self {
        case let .invalidInput(field, _), let .unknownZone(field): return field
        default: return nil
        }
    }
}

/// Asserts that `body` throws a `CairnError` of `kind`; returns the error.
@discardableResult
func assertThrows<T>(
    _ kind: ErrorKind,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () async throws -> T
) async -> CairnError? {
    do {
        _ = try await body()
        XCTFail("expected CairnError \(kind), nothing was thrown. \(message())", file: file, line: line)
    } catch let error as CairnError {
        XCTAssertEqual(error.kind, kind, "\(error) \(message())", file: file, line: line)
        return error
    } catch {
        XCTFail("expected CairnError \(kind), got \(error). \(message())", file: file, line: line)
    }
    return nil
}

/// Asserts that `body` throws a `CairnError` of `kind` naming `field`.
@discardableResult
func assertThrows<T>(
    _ kind: ErrorKind,
    naming field: String,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () async throws -> T
) async -> CairnError? {
    let error = await assertThrows(kind, message(), file: file, line: line, body)
    if let error {
        XCTAssertEqual(error.field, field, "\(error) \(message())", file: file, line: line)
    }
    return error
}

/// Asserts that `body` throws `CairnError.invalidInput` naming `field`.
@discardableResult
func assertInvalid<T>(
    _ field: String,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () async throws -> T
) async -> CairnError? {
    await assertThrows(.invalidInput, naming: field, message(), file: file, line: line, body)
}

/// Asserts that `body` throws `CairnError.unknownZone` naming `field`.
@discardableResult
func assertUnknownZone<T>(
    _ field: String,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () async throws -> T
) async -> CairnError? {
    await assertThrows(.unknownZone, naming: field, message(), file: file, line: line, body)
}

/// Asserts that `body` throws `CancellationError`.
func assertCancelled<T>(
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line,
    _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        XCTFail("expected CancellationError, nothing was thrown. \(message())", file: file, line: line)
    } catch is CancellationError {
    } catch {
        XCTFail("expected CancellationError, got \(error). \(message())", file: file, line: line)
    }
}

// MARK: - time

let second: TimeInterval = 1
let minute: TimeInterval = 60
let hour: TimeInterval = 3600
let day: TimeInterval = 86_400

/// The `Date` of whole milliseconds since 1970, as Cairn returns it (the
/// same `Double`, so that the two compare equal).
func instant(ms: Int64) -> Date {
    Date(timeIntervalSince1970: Double(ms) / 1000)
}

/// Milliseconds since 1970 of `date`, to the nearest.
func ms(_ date: Date) -> Int64 {
    Int64((date.timeIntervalSince1970 * 1000).rounded())
}

extension Date {
    /// `self` moved by `interval`, on whole milliseconds (as Cairn keeps
    /// instants), built as the bindings build the dates they return.
    func shifted(_ interval: TimeInterval) -> Date {
        instant(ms: ms(self) + Int64((interval * 1000).rounded()))
    }
}

/// Now, on a whole millisecond (entries may be at most a day ahead).
func rightNow() -> Date {
    instant(ms: ms(Date()))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
func epochDay(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

/// A UTC wall-clock instant, `YYYY-MM-DDTHH:MM[:SS[.mmm]]`.
func utc(_ text: String) -> Date {
    let parts = text.split(whereSeparator: { "-T:".contains($0) }).map(String.init)
    precondition(parts.count == 5 || parts.count == 6, text)
    let n = parts.prefix(5).map { Int64($0)! }
    var millis: Int64 = 0
    if parts.count == 6 {
        let s = parts[5].split(separator: ".")
        millis = Int64(s[0])! * 1000
        if s.count == 2 { millis += Int64(s[1].padding(toLength: 3, withPad: "0", startingAt: 0))! }
    }
    let days = epochDay(n[0], n[1], n[2])
    return instant(ms: ((days * 24 + n[3]) * 60 + n[4]) * 60_000 + millis)
}

/// A local day, `YYYY-MM-DD`, as the API takes and returns it.
func localDay(_ text: String) -> DateComponents {
    let p = text.split(separator: "-").map { Int($0)! }
    precondition(p.count == 3, text)
    return DateComponents(year: p[0], month: p[1], day: p[2])
}

/// A wall-clock time, `HH:MM`, as the API takes and returns it.
func wallTime(_ text: String) -> DateComponents {
    let p = text.split(separator: ":").map { Int($0)! }
    precondition(p.count == 2, text)
    return DateComponents(hour: p[0], minute: p[1])
}

/// The wall-clock `HH:MM` of `date` at a UTC offset.
func wallClock(_ date: Date, offsetSeconds: Int32) -> String {
    let minutes = ((ms(date) / 1000 + Int64(offsetSeconds)) / 60) % (24 * 60)
    let m = minutes < 0 ? minutes + 24 * 60 : minutes
    return String(format: "%02d:%02d", Int(m / 60), Int(m % 60))
}

/// The local day of `date` in `zone`, by Foundation.
func foundationDay(_ date: Date, _ zone: TimeZone) -> DateComponents {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = zone
    let c = calendar.dateComponents([.year, .month, .day], from: date)
    return DateComponents(year: c.year, month: c.month, day: c.day)
}

// MARK: - zones and values

func zone(_ identifier: String) -> TimeZone {
    guard let z = TimeZone(identifier: identifier) else { fatalError("Foundation lacks \(identifier)") }
    return z
}

let paris = zone("Europe/Paris")
let tokyo = zone("Asia/Tokyo")
let utcZone = zone("UTC")
/// A zone Foundation makes from an offset and no tz database holds
/// (its identifier is `GMT+0500`): the journal's zones refuse it.
let fixedOffsetZone = TimeZone(secondsFromGMT: 5 * 3600)!

func moodEntry(
    _ value: Double,
    at: Date = rightNow(),
    zone: TimeZone = paris,
    note: String? = nil,
    tags: [Tag] = []
) -> NewEntry {
    NewEntry(tracker: "mood", value: .scale(value: value), at: at, zone: zone, note: note, tags: tags)
}

/// A well-formed id that names nothing.
func unknownEntryId(_ digit: Character = "0") -> EntryId {
    EntryId(String(repeating: digit, count: 32))
}

// MARK: - test cases

/// A test with its own temporary folder (removed afterwards) and a fresh key.
class JournalTestCase: XCTestCase {
    private(set) var folder: URL!
    private(set) var key: Data!

    override func setUpWithError() throws {
        try super.setUpWithError()
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-swift-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        key = try generateKey()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
        try super.tearDownWithError()
    }

    func path(_ name: String = "journal.cairn") -> String {
        folder.appendingPathComponent(name).path
    }

    /// A new journal at `path(name)`; closed at the end of the test.
    func makeJournal(_ name: String = "journal.cairn", zones: ZoneDatabase? = nil) async throws -> Journal {
        let journal = try await Journal.create(path: path(name), key: key, zones: zones)
        closeAtTearDown(journal)
        return journal
    }

    /// Closes `journal` when the test ends (closing twice is fine).
    func closeAtTearDown(_ journal: Journal) {
        addTeardownBlock { try await journal.close() }
    }
}

/// A value shared between tasks and threads, behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withValue<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    var current: Value { withValue { $0 } }
}

struct DeadlineExceeded: Error, CustomStringConvertible {
    let what: String
    let seconds: Double
    var description: String { "\(what) did not finish within \(seconds) s (a hang)" }
}

/// Runs `operation` in a task of its own and returns its result, or throws
/// `DeadlineExceeded` after `seconds` (then cancels it): a hang fails the
/// test instead of stopping the run. Not a timing assertion: the deadline
/// is far above the time the operation takes.
func withDeadline<T: Sendable>(
    _ seconds: Double = 30, _ what: String = "the operation",
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let work = Task { try await operation() }
    let settled = Locked(false)
    let outcome: Result<T, any Error> = await withCheckedContinuation { continuation in
        let timer = Task {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            if settled.withValue({ s in defer { s = true }; return !s }) {
                work.cancel()
                continuation.resume(returning: .failure(DeadlineExceeded(what: what, seconds: seconds)))
            }
        }
        Task {
            let result = await work.result
            if settled.withValue({ s in defer { s = true }; return !s }) {
                timer.cancel()
                continuation.resume(returning: result)
            }
        }
    }
    return try outcome.get()
}
