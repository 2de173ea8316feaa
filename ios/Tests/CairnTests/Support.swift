import Cairn
import Foundation
import XCTest

/// The kinds of `CairnError`, without their messages.
enum ErrorKind: Equatable {
    case invalidInput, wrongKey, corrupted, notFound, incompatible, closed, storage
}

extension CairnError {
    var kind: ErrorKind {
        switch self {
        case .InvalidInput: return .invalidInput
        case .WrongKey: return .wrongKey
        case .Corrupted: return .corrupted
        case .NotFound: return .notFound
        case .Incompatible: return .incompatible
        case .Closed: return .closed
        case .Storage: return .storage
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
    _ body: () throws -> T
) -> CairnError? {
    do {
        _ = try body()
        XCTFail("expected CairnError \(kind), nothing was thrown. \(message())", file: file, line: line)
    } catch let error as CairnError {
        XCTAssertEqual(error.kind, kind, "\(error) \(message())", file: file, line: line)
        return error
    } catch {
        XCTFail("expected CairnError \(kind), got \(error). \(message())", file: file, line: line)
    }
    return nil
}

/// Now, in ms since the epoch (entries may be at most a day ahead).
func nowMs() -> Int64 {
    Int64(Date().timeIntervalSince1970 * 1000)
}

let hourMs: Int64 = 3_600_000
let dayMs: Int64 = 24 * hourMs

func moodEntry(
    _ value: Double,
    at: Int64 = nowMs(),
    zone: String = "Europe/Paris",
    note: String? = nil,
    tags: [Tag] = []
) -> NewEntry {
    NewEntry(tracker: "mood", value: .scale(value: value), atMs: at, zone: zone, note: note, tags: tags)
}

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

    /// A new journal at `path()`; closed at the end of the test.
    func makeJournal(zones: ZoneDatabase? = nil) throws -> Journal {
        let journal = try Journal.create(path: path(), key: key, zones: zones)
        addTeardownBlock { XCTAssertNoThrow(try journal.close()) }
        return journal
    }
}

/// A value shared between test threads, behind a lock.
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
