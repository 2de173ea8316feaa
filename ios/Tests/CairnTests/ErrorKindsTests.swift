import Cairn
import CairnKit
import Foundation
import XCTest

/// Each `CairnError` case, produced by a real call, one by one. Its
/// `localizedDescription` (what an app shows or logs) is the plain sentence:
/// never a dump of the case, never the note the patient wrote.
final class ErrorKindsTests: JournalTestCase {
    /// What the patient wrote; no error may repeat it.
    let secret = "I told no one about the panic attack at Maria's"

    /// Asserts that `body` throws `expected` (fields compared when given
    /// with them), and that its sentence is `sentence`, plain and private.
    @discardableResult
    func assertError<T>(
        _ kind: ErrorKind, _ sentence: String? = nil, equals expected: CairnError? = nil,
        file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
    ) async -> CairnError? {
        guard let error = await assertThrows(kind, file: file, line: line, body) else { return nil }
        if let expected {
            XCTAssertEqual(error, expected, file: file, line: line)
        }
        let text = error.localizedDescription
        if let sentence {
            XCTAssertEqual(text, sentence, file: file, line: line)
        }
        XCTAssertEqual(error.errorDescription, text, file: file, line: line)
        XCTAssertEqual(error.description, text, "the description from Rust is the same sentence", file: file, line: line)
        XCTAssertFalse(text.isEmpty, file: file, line: line)
        for dump in ["(field:", "(table:", "(got:", "(found:", "(message:", "CairnError", "\(kind)("] {
            XCTAssertFalse(text.contains(dump), "a debug dump: \(text)", file: file, line: line)
        }
        for words in ["panic attack", "Maria", "told no one"] {
            XCTAssertFalse(text.contains(words), "patient text in \(text)", file: file, line: line)
            XCTAssertFalse("\(error)".contains(words), "patient text in \(error)", file: file, line: line)
        }
        return error
    }

    func testInvalidInput() async throws {
        let journal = try await makeJournal()
        let value = await assertError(.invalidInput) { try await journal.log(entry: moodEntry(42, note: secret)) }
        XCTAssertEqual(value?.field, "value")
        let note = await assertError(.invalidInput) {
            try await journal.log(entry: moodEntry(5, note: secret + String(repeating: "!", count: 70_000)))
        }
        XCTAssertEqual(note?.field, "note")
        await assertError(.invalidInput, "invalid at: must lie between 1970 and 2199", equals: .invalidInput(field: "at", reason: "must lie between 1970 and 2199")) {
            try await journal.log(entry: moodEntry(5, at: .distantPast, note: secret))
        }
    }

    func testKeyLength() async throws {
        let path = path()
        await assertError(.keyLength, "a key must be 32 bytes; got 31", equals: .keyLength(got: 31)) {
            try await Journal.create(path: path, key: Data(repeating: 1, count: 31))
        }
        let journal = try await makeJournal()
        await assertError(.keyLength, equals: .keyLength(got: 0)) { try await journal.rekey(newKey: Data()) }
    }

    func testUnknownZone() async throws {
        let journal = try await makeJournal()
        await assertError(.unknownZone, "unknown time zone in zone", equals: .unknownZone(field: "zone")) {
            try await journal.log(entry: moodEntry(5, zone: fixedOffsetZone, note: secret))
        }
        await assertError(.unknownZone, equals: .unknownZone(field: "deviceZone")) {
            try await journal.reminders().plan(now: rightNow(), deviceZone: fixedOffsetZone, limits: iosLimits(), horizonDays: 1)
        }
    }

    func testUnknownTracker() async throws {
        let journal = try await makeJournal()
        await assertError(.unknownTracker, "unknown tracker") {
            try await journal.log(entry: NewEntry(tracker: secret, value: .scale(value: 5), at: rightNow(), zone: utcZone, note: secret))
        }
        await assertError(.unknownTracker) { try await journal.tracker(idOrName: secret) }
    }

    func testDuplicateTracker() async throws {
        let journal = try await makeJournal()
        _ = try await journal.addTracker(tracker: NewTracker(name: "Panic attacks", kind: .count))
        await assertError(.duplicateTracker, "a tracker with that name already exists") {
            try await journal.addTracker(tracker: NewTracker(name: "panic attacks", kind: .count))
        }
    }

    func testWrongKey() async throws {
        let journal = try await makeJournal()
        _ = try await journal.log(entry: moodEntry(5, note: secret))
        try await journal.close()
        let path = path()
        let other = try generateKey()
        await assertError(.wrongKey, "the key does not open this store") { try await Journal.open(path: path, key: other) }
    }

    func testCorrupted() async throws {
        #if CAIRN_TESTING
        let journal = try await makeJournal()
        let entry = try await journal.log(entry: moodEntry(5, note: secret))
        try testingTamper(path: path(), table: "entries", id: entry.id.value, how: "flip_body")
        let id = entry.id.value
        await assertError(
            .corrupted, "record entries/\(id) is damaged and cannot be opened", equals: .corrupted(table: "entries", id: id)
        ) {
            try await journal.entry(id: entry.id)
        }
        #else
        throw XCTSkip("testingTamper needs the testing build of cairn-ffi: bash tests/swift.sh")
        #endif
    }

    func testStoreExists() async throws {
        try await makeJournal().close()
        let (path, key) = (path(), key!)
        await assertError(.storeExists, "a store already exists at this path") { try await Journal.create(path: path, key: key) }
    }

    func testStoreNotFound() async throws {
        let (path, key) = (path(), key!)
        await assertError(.storeNotFound, "no store exists at this path") { try await Journal.open(path: path, key: key) }
    }

    func testNotAStore() async throws {
        try Data(Array(secret.utf8) + [UInt8](repeating: 0x42, count: 8192)).write(to: URL(fileURLWithPath: path()))
        let (path, key) = (path(), key!)
        await assertError(.notAStore, "the file is not a Cairn store") { try await Journal.open(path: path, key: key) }
    }

    /// A journal written by a later version of Cairn: SQLite's header says
    /// schema 99 (its `user_version`, 4 bytes big-endian at offset 60).
    func testIncompatible() async throws {
        let journal = try await makeJournal()
        _ = try await journal.log(entry: moodEntry(5, note: secret))
        try await journal.close()
        let url = URL(fileURLWithPath: path())
        var file = try Data(contentsOf: url)
        file.replaceSubrange(60..<64, with: [0, 0, 0, 99])
        try file.write(to: url)
        let (path, key) = (path(), key!)
        await assertError(
            .incompatible, "the store has schema version 99; this version reads up to 5",
            equals: .incompatible(found: 99, supported: 5)
        ) {
            try await Journal.open(path: path, key: key)
        }
    }

    func testNotFound() async throws {
        let journal = try await makeJournal()
        let id = String(repeating: "0", count: 32)
        await assertError(.notFound, "no record \(id) in entries", equals: .notFound(table: "entries", id: id)) {
            try await journal.entry(id: EntryId(id))
        }
    }

    func testClosed() async throws {
        let journal = try await makeJournal()
        let r = try journal.reminders()
        try await journal.close()
        await assertError(.closed, "the journal is closed") { try await journal.log(entry: moodEntry(5, note: self.secret)) }
        await assertError(.closed, "the journal is closed") { try await r.list() }
    }

    /// SQLite's own words: a journal file cut in half.
    func testStorage() async throws {
        let journal = try await makeJournal()
        for i in 0..<100 {
            _ = try await journal.log(entry: moodEntry(5, at: rightNow().shifted(-Double(i) * minute), note: secret))
        }
        try await journal.close()
        let url = URL(fileURLWithPath: path())
        let file = try Data(contentsOf: url)
        try file.prefix(file.count / 2).write(to: url)
        let (path, key) = (path(), key!)
        let error = await assertError(.storage, "storage error: database disk image is malformed") {
            try await Journal.open(path: path, key: key)
        }
        XCTAssertEqual(error, .storage(message: "database disk image is malformed"))
    }

    /// The operating system's words: a zone file that is not there.
    func testIo() async throws {
        let missing = path("tzdata")
        let error = await assertError(.io) { try ZoneDatabase.androidTzdata(path: missing) }
        XCTAssertEqual(error?.localizedDescription.hasPrefix("i/o error: "), true)
        XCTAssertFalse(error?.localizedDescription.contains(missing) ?? true, "the path is not repeated")
    }

    /// A panic in Rust: the journal keeps working.
    func testInternal() async throws {
        #if CAIRN_TESTING
        let journal = try await makeJournal()
        await assertError(.internal, "internal error in Cairn", equals: .internal) { try await journal.testingPanic() }
        _ = try await journal.log(entry: moodEntry(5))
        #else
        throw XCTSkip("testingPanic() needs the testing build of cairn-ffi: bash tests/swift.sh")
        #endif
    }

    /// Every case above is produced somewhere in this class; the sync kinds
    /// by real exchanges with cairn-clinic in `ClinicSyncTests`, all but
    /// three that server cannot be made to answer from a test.
    func testEveryKindIsCovered() {
        let covered: Set<String> = [
            "invalidInput", "keyLength", "unknownZone", "unknownTracker", "duplicateTracker", "wrongKey", "corrupted",
            "storeExists", "storeNotFound", "notAStore", "incompatible", "notFound", "closed", "storage", "io", "internal",
        ]
        let coveredBySync: Set<String> = [
            "notEnrolled", "alreadyEnrolled", "enrollmentUsed", "enrollmentRevoked", "deviceRevoked", "syncRefused",
            "badReply", "staleReply",
        ]
        // A code past its expiry (the server's clock decides), a busy
        // database, another major protocol version.
        let notProducedHere: Set<String> = ["enrollmentExpired", "serverBusy", "protocolIncompatible"]
        XCTAssertEqual(
            Set(ErrorKind.allCases.map { "\($0)" }), covered.union(coveredBySync).union(notProducedHere),
            "a test per kind, named after it")
    }
}
