import Cairn
import Foundation
import XCTest

final class JournalLifecycleTests: JournalTestCase {
    func testCreateThenOpenReadsWhatWasLogged() async throws {
        let journal = try await Journal.create(path: path(), key: key)
        let logged = try await journal.log(entry: moodEntry(6, note: "slept well"))
        try await journal.close()

        let reopened = try await Journal.open(path: path(), key: key)
        closeAtTearDown(reopened)
        let read = try await reopened.entry(id: logged.id)
        XCTAssertEqual(read, logged)
        let sound = try await reopened.integrityCheck()
        XCTAssertTrue(sound)
    }

    func testCreateRefusesAnExistingStore() async throws {
        try await makeJournal().close()
        let key = key!
        let path = path()
        await assertThrows(.storeExists) { try await Journal.create(path: path, key: key) }
    }

    func testOpenWithoutAStoreIsStoreNotFound() async {
        let key = key!
        let path = path()
        await assertThrows(.storeNotFound) { try await Journal.open(path: path, key: key) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testOpenRefusesAFileThatIsNotAStore() async throws {
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: path()))
        let key = key!
        let path = path()
        await assertThrows(.notAStore) { try await Journal.open(path: path, key: key) }
        await assertThrows(.notAStore) { try await Journal.openOrCreate(path: path, key: key) }
    }

    func testOpenOrCreateCreatesOnceThenOpens() async throws {
        let first = try await Journal.openOrCreate(path: path(), key: key)
        let entry = try await first.log(entry: moodEntry(5))
        try await first.close()
        let second = try await Journal.openOrCreate(path: path(), key: key)
        closeAtTearDown(second)
        let read = try await second.entry(id: entry.id)
        XCTAssertEqual(read.id, entry.id)
        let page = try await second.entries(query: EntryQuery())
        XCTAssertEqual(page.entries.count, 1)
    }

    func testKeysMustBe32Bytes() async throws {
        let path = path()
        for size in [0, 31, 33] {
            let bad = Data(repeating: 7, count: size)
            let create = await assertThrows(.keyLength, "create \(size)") { try await Journal.create(path: path, key: bad) }
            XCTAssertEqual(create, .keyLength(got: Int64(size)))
            await assertThrows(.keyLength, "openOrCreate \(size)") { try await Journal.openOrCreate(path: path, key: bad) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))

        try await makeJournal().close()
        for size in [0, 31, 33] {
            let bad = Data(repeating: 7, count: size)
            await assertThrows(.keyLength, "open \(size)") { try await Journal.open(path: path, key: bad) }
            await assertThrows(.keyLength, "openOrCreate \(size)") { try await Journal.openOrCreate(path: path, key: bad) }
        }
    }

    func testWrongKeyIsRefusedAndNothingChanges() async throws {
        let journal = try await makeJournal()
        let entry = try await journal.log(entry: moodEntry(4))
        try await journal.close()
        let path = path()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let other = try generateKey()
        await assertThrows(.wrongKey) { try await Journal.open(path: path, key: other) }
        await assertThrows(.wrongKey) { try await Journal.openOrCreate(path: path, key: other) }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)

        let reopened = try await Journal.open(path: path, key: key)
        closeAtTearDown(reopened)
        let read = try await reopened.entry(id: entry.id)
        XCTAssertEqual(read.value, .scale(value: 4))
    }

    func testRekeyResealsEverythingUnderTheNewKey() async throws {
        let journal = try await makeJournal()
        var entries: [Entry] = []
        for i in 0..<3 {
            entries.append(try await journal.log(entry: moodEntry(Double(i), at: rightNow().shifted(-Double(i) * hour))))
        }
        _ = try await journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
        for size in [0, 31, 33] {
            await assertThrows(.keyLength, "rekey \(size)") { try await journal.rekey(newKey: Data(count: size)) }
        }
        let newKey = try generateKey()
        let report = try await journal.rekey(newKey: newKey)
        XCTAssertGreaterThanOrEqual(report.resealed, 4)
        XCTAssertEqual(report.corrupted, [])
        let read = try await journal.entry(id: entries[0].id)
        XCTAssertEqual(read, entries[0])
        try await journal.close()

        let path = path()
        let oldKey = key!
        await assertThrows(.wrongKey) { try await Journal.open(path: path, key: oldKey) }
        let reopened = try await Journal.open(path: path, key: newKey)
        closeAtTearDown(reopened)
        let page = try await reopened.entries(query: EntryQuery())
        XCTAssertEqual(Set(page.entries.map(\.id)), Set(entries.map(\.id)))
        let water = try await reopened.tracker(idOrName: "water")
        XCTAssertEqual(water.name, "Water")
    }

    func testPendingChangesCountsEveryWrite() async throws {
        let journal = try await makeJournal()
        let start = try await journal.pendingChanges()
        var counts: [Int64] = []
        let entry = try await journal.log(entry: moodEntry(5))
        counts.append(try await journal.pendingChanges())
        _ = try await journal.updateEntry(id: entry.id, entry: moodEntry(6))
        counts.append(try await journal.pendingChanges())
        try await journal.deleteEntry(id: entry.id)
        counts.append(try await journal.pendingChanges())
        let tracker = try await journal.addTracker(tracker: NewTracker(name: "Walks", kind: .count))
        counts.append(try await journal.pendingChanges())
        try await journal.deleteTracker(id: tracker.id)
        counts.append(try await journal.pendingChanges())
        XCTAssertEqual(counts, (1...5).map { start + Int64($0) })
    }

    func testIntegrityCheckPassesOnASoundFile() async throws {
        let journal = try await makeJournal()
        _ = try await journal.log(entry: moodEntry(3))
        let sound = try await journal.integrityCheck()
        XCTAssertTrue(sound)
    }

    func testEveryCallAfterCloseIsClosed() async throws {
        let journal = try await makeJournal()
        let entry = try await journal.log(entry: moodEntry(5))
        let r = try journal.reminders()
        try await journal.close()
        try await journal.close()  // closing twice is fine

        let calls: [(String, () async throws -> Any)] = [
            ("log", { try await journal.log(entry: moodEntry(5)) }),
            ("updateEntry", { try await journal.updateEntry(id: entry.id, entry: moodEntry(6)) }),
            ("deleteEntry", { try await journal.deleteEntry(id: entry.id) }),
            ("entry", { try await journal.entry(id: entry.id) }),
            ("entries", { try await journal.entries(query: EntryQuery()) }),
            ("summary", { try await journal.summary(query: EntryQuery()) }),
            ("tagsOnLowDays", { try await journal.tagsOnLowDays(query: EntryQuery(), tracker: "mood", threshold: 3) }),
            ("trackers", { try await journal.trackers() }),
            ("tracker", { try await journal.tracker(idOrName: "mood") }),
            ("addTracker", { try await journal.addTracker(tracker: NewTracker(name: "Walks", kind: .count)) }),
            ("deleteTracker", { try await journal.deleteTracker(id: TrackerId("mood")) }),
            ("rekey", { try await journal.rekey(newKey: try generateKey()) }),
            ("pendingChanges", { try await journal.pendingChanges() }),
            ("integrityCheck", { try await journal.integrityCheck() }),
            ("observe", { try journal.observe(listener: IgnoringListener()) }),
            ("reminders", { try journal.reminders() }),
            ("a Reminders taken before", { try await r.list() }),
        ]
        for (name, call) in calls {
            await assertThrows(.closed, name) { try await call() }
        }
        // The file is intact and opens again.
        let reopened = try await Journal.open(path: path(), key: key)
        closeAtTearDown(reopened)
        let read = try await reopened.entry(id: entry.id)
        XCTAssertEqual(read.id, entry.id)
    }

    func testZonesParameterChoosesTheDatabase() async throws {
        let zones = try ZoneDatabase.inMemory()
        // Foundation's UTC is named GMT: the in-memory database's own UTC
        // does not answer to it (ZoneDatabaseTests).
        try zones.addTzif(name: "GMT", tzif: try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/GMT")))
        let journal = try await makeJournal(zones: zones)
        _ = try await journal.log(entry: moodEntry(5, zone: utcZone))
        await assertUnknownZone("zone") { try await journal.log(entry: moodEntry(5, zone: paris)) }

        try zones.addTzif(
            name: "Europe/Paris",
            tzif: try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Europe/Paris")))
        let entry = try await journal.log(entry: moodEntry(5, zone: paris))
        XCTAssertEqual(entry.zone, paris)
    }
}

/// A listener that does nothing.
final class IgnoringListener: JournalListener {
    func onChange(change: JournalChange) {}
    func onClosed() {}
}
