import Cairn
import Foundation
import XCTest

final class JournalLifecycleTests: JournalTestCase {
    func testCreateThenOpenReadsWhatWasLogged() throws {
        let journal = try Journal.create(path: path(), key: key)
        let logged = try journal.log(entry: moodEntry(6, note: "slept well"))
        try journal.close()

        let reopened = try Journal.open(path: path(), key: key)
        defer { XCTAssertNoThrow(try reopened.close()) }
        XCTAssertEqual(try reopened.entry(id: logged.id), logged)
        XCTAssertTrue(try reopened.integrityCheck())
    }

    func testCreateRefusesAnExistingStore() throws {
        try makeJournal().close()
        assertThrows(.invalidInput) { try Journal.create(path: path(), key: key) }
    }

    func testOpenWithoutAStoreIsNotFound() {
        assertThrows(.notFound) { try Journal.open(path: path(), key: key) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path()))
    }

    func testOpenRefusesAFileThatIsNotAStore() throws {
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path()))
        assertThrows(.incompatible) { try Journal.open(path: path(), key: key) }
    }

    func testOpenOrCreateCreatesOnceThenOpens() throws {
        let first = try Journal.openOrCreate(path: path(), key: key)
        let entry = try first.log(entry: moodEntry(5))
        try first.close()
        let second = try Journal.openOrCreate(path: path(), key: key)
        defer { XCTAssertNoThrow(try second.close()) }
        XCTAssertEqual(try second.entry(id: entry.id).id, entry.id)
        XCTAssertEqual(try second.entries(query: EntryQuery()).entries.count, 1)
    }

    func testKeysMustBe32Bytes() throws {
        for size in [0, 31, 33] {
            let bad = Data(repeating: 7, count: size)
            assertThrows(.invalidInput, "create \(size)") { try Journal.create(path: path(), key: bad) }
            assertThrows(.invalidInput, "openOrCreate \(size)") { try Journal.openOrCreate(path: path(), key: bad) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path()))

        let journal = try makeJournal()
        try journal.close()
        for size in [0, 31, 33] {
            let bad = Data(repeating: 7, count: size)
            assertThrows(.invalidInput, "open \(size)") { try Journal.open(path: path(), key: bad) }
            assertThrows(.invalidInput, "openOrCreate \(size)") { try Journal.openOrCreate(path: path(), key: bad) }
        }
    }

    func testWrongKeyIsRefusedAndNothingChanges() throws {
        let journal = try makeJournal()
        let entry = try journal.log(entry: moodEntry(4))
        try journal.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path()))

        let other = try generateKey()
        assertThrows(.wrongKey) { try Journal.open(path: path(), key: other) }
        assertThrows(.wrongKey) { try Journal.openOrCreate(path: path(), key: other) }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path())), before)

        let reopened = try Journal.open(path: path(), key: key)
        defer { XCTAssertNoThrow(try reopened.close()) }
        XCTAssertEqual(try reopened.entry(id: entry.id).value, .scale(value: 4))
    }

    func testRekeyResealsEverythingUnderTheNewKey() throws {
        let journal = try makeJournal()
        let entries = try (0..<3).map { try journal.log(entry: moodEntry(Double($0), at: nowMs() - Int64($0) * hourMs)) }
        _ = try journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
        for size in [0, 31, 33] {
            assertThrows(.invalidInput, "rekey \(size)") { try journal.rekey(newKey: Data(count: size)) }
        }
        let newKey = try generateKey()
        let report = try journal.rekey(newKey: newKey)
        XCTAssertGreaterThanOrEqual(report.resealed, 4)
        XCTAssertEqual(report.corrupted, [])
        XCTAssertEqual(try journal.entry(id: entries[0].id), entries[0])
        try journal.close()

        assertThrows(.wrongKey) { try Journal.open(path: path(), key: key) }
        let reopened = try Journal.open(path: path(), key: newKey)
        defer { XCTAssertNoThrow(try reopened.close()) }
        XCTAssertEqual(Set(try reopened.entries(query: EntryQuery()).entries.map(\.id)), Set(entries.map(\.id)))
        XCTAssertEqual(try reopened.tracker(idOrName: "water").name, "Water")
    }

    func testPendingChangesCountsEveryWrite() throws {
        let journal = try makeJournal()
        let start = try journal.pendingChanges()
        let entry = try journal.log(entry: moodEntry(5))
        XCTAssertEqual(try journal.pendingChanges(), start + 1)
        _ = try journal.updateEntry(id: entry.id, entry: moodEntry(6))
        XCTAssertEqual(try journal.pendingChanges(), start + 2)
        try journal.deleteEntry(id: entry.id)
        XCTAssertEqual(try journal.pendingChanges(), start + 3)
        let tracker = try journal.addTracker(tracker: NewTracker(name: "Walks", kind: .count))
        XCTAssertEqual(try journal.pendingChanges(), start + 4)
        try journal.deleteTracker(id: tracker.id)
        XCTAssertEqual(try journal.pendingChanges(), start + 5)
    }

    func testIntegrityCheckPassesOnASoundFile() throws {
        let journal = try makeJournal()
        _ = try journal.log(entry: moodEntry(3))
        XCTAssertTrue(try journal.integrityCheck())
    }

    func testEveryCallAfterCloseIsClosed() throws {
        let journal = try makeJournal()
        let entry = try journal.log(entry: moodEntry(5))
        try journal.close()
        try journal.close()  // closing twice is fine

        let calls: [(String, () throws -> Any)] = [
            ("log", { try journal.log(entry: moodEntry(5)) }),
            ("updateEntry", { try journal.updateEntry(id: entry.id, entry: moodEntry(6)) }),
            ("deleteEntry", { try journal.deleteEntry(id: entry.id) }),
            ("entry", { try journal.entry(id: entry.id) }),
            ("entries", { try journal.entries(query: EntryQuery()) }),
            ("summary", { try journal.summary(query: EntryQuery()) }),
            ("tagsOnLowDays", { try journal.tagsOnLowDays(query: EntryQuery(), tracker: "mood", threshold: 3) }),
            ("trackers", { try journal.trackers() }),
            ("tracker", { try journal.tracker(idOrName: "mood") }),
            ("addTracker", { try journal.addTracker(tracker: NewTracker(name: "Walks", kind: .count)) }),
            ("deleteTracker", { try journal.deleteTracker(id: "mood") }),
            ("rekey", { try journal.rekey(newKey: try generateKey()) }),
            ("pendingChanges", { try journal.pendingChanges() }),
            ("integrityCheck", { try journal.integrityCheck() }),
        ]
        for (name, call) in calls {
            assertThrows(.closed, name) { try call() }
        }
        // The file is intact and opens again.
        let reopened = try Journal.open(path: path(), key: key)
        defer { XCTAssertNoThrow(try reopened.close()) }
        XCTAssertEqual(try reopened.entry(id: entry.id).id, entry.id)
    }

    func testZonesParameterChoosesTheDatabase() throws {
        let zones = try ZoneDatabase.inMemory()
        let journal = try makeJournal(zones: zones)
        XCTAssertNoThrow(try journal.log(entry: moodEntry(5, zone: "UTC")))
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, zone: "Europe/Paris")) }

        try zones.addTzif(
            name: "Europe/Paris",
            tzif: try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Europe/Paris")))
        let entry = try journal.log(entry: moodEntry(5, zone: "Europe/Paris"))
        XCTAssertEqual(entry.zone, "Europe/Paris")
    }
}
