@testable import CairnKit
import Cairn
import Foundation
import XCTest

/// Re-keying through a `KeyProvider`'s pending slot, and what an open finds
/// after the app was killed at each step. A "killed" app's journal handle is
/// left open until the test ends (never closed, so its WAL is not
/// checkpointed by a close), and the keys it left are opened again through
/// the same slots, as the next launch would.
final class RekeyTests: JournalTestCase {
    /// A journal at `path()` made through `keys`, holding one entry.
    private func journalWithEntry(_ keys: any KeyProvider) async throws -> (Journal, Entry) {
        let journal = try await Journal.openOrCreate(path: path(), keys: keys)
        closeAtTearDown(journal)
        return (journal, try await journal.log(entry: moodEntry(4, note: "before the re-key")))
    }

    /// Opens the journal through `keys` as the next launch would, and checks
    /// it holds `entry`, that `expected` is the stored key and opens it,
    /// that `other` does not, and that no pending key is left.
    private func assertOpensWith(
        _ expected: Data, not other: Data, keys: any KeyProvider, entry: Entry,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let path = path()
        let journal = try await Journal.openOrCreate(path: path, keys: keys)
        let read = try await journal.entry(id: entry.id)
        XCTAssertEqual(read.note, entry.note, file: file, line: line)
        try await journal.close()
        XCTAssertEqual(try keys.storedKey(), expected, "stored key", file: file, line: line)
        XCTAssertNil(try keys.pendingKey(), "pending key left", file: file, line: line)
        try await Journal.open(path: path, key: expected).close()
        await assertThrows(.wrongKey, file: file, line: line) { try await Journal.open(path: path, key: other) }
    }

    /// Asserts that a re-key through `keys` stops where `KillingKeyProvider` kills it.
    private func assertKilled(_ journal: Journal, _ keys: any KeyProvider, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            try await journal.rekey(path: path(), keys: keys)
            XCTFail("the re-key was not stopped", file: file, line: line)
        } catch {
            XCTAssertTrue(error is Killed, "\(error)", file: file, line: line)
        }
    }

    func testRekeyReplacesTheKeyAndLeavesNoPendingKey() async throws {
        let keys = InMemoryKeyProvider()
        let (journal, entry) = try await journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())

        let report = try await journal.rekey(path: path(), keys: keys)
        XCTAssertGreaterThanOrEqual(report.resealed, 1)
        XCTAssertEqual(report.corrupted, [])
        let new = try XCTUnwrap(try keys.storedKey())
        XCTAssertNotEqual(new, old)
        XCTAssertEqual(new.count, 32)
        let read = try await journal.entry(id: entry.id)
        XCTAssertEqual(read.id, entry.id, "the handle keeps working")
        _ = try await journal.log(entry: moodEntry(5))
        try await assertOpensWith(new, not: old, keys: keys, entry: entry)
        XCTAssertTrue(FileManager.default.fileExists(atPath: RekeyLock.path(forJournalAt: path())))
    }

    func testKilledAfterStoringThePendingKey() async throws {
        let slots = InMemoryKeyProvider()
        let (journal, entry) = try await journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        await assertKilled(journal, KillingKeyProvider(slots, at: .afterStoringPending))
        let pending = try XCTUnwrap(try slots.pendingKey(), "the new key was stored as pending")

        // The re-key never ran: the stored key opens it, the pending one is dropped.
        try await assertOpensWith(old, not: pending, keys: slots, entry: entry)
    }

    func testKilledAfterTheRekeyBeforePromotion() async throws {
        let slots = InMemoryKeyProvider()
        let (journal, entry) = try await journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        await assertKilled(journal, KillingKeyProvider(slots, at: .beforePromoting))
        let new = try XCTUnwrap(try slots.pendingKey())
        XCTAssertEqual(try slots.storedKey(), old, "not promoted")

        // The re-key committed: the stored key is wrong, the pending one opens it and is promoted.
        try await assertOpensWith(new, not: old, keys: slots, entry: entry)
    }

    func testKilledDuringPromotionBeforeThePendingKeyIsDeleted() async throws {
        let slots = InMemoryKeyProvider()
        let (journal, entry) = try await journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        await assertKilled(journal, KillingKeyProvider(slots, at: .afterReplacingStoredKey))
        let new = try XCTUnwrap(try slots.storedKey())
        XCTAssertNotEqual(new, old)
        XCTAssertEqual(try slots.pendingKey(), new, "stored and pending are both the new key")

        try await assertOpensWith(new, not: old, keys: slots, entry: entry)
    }

    func testKilledAfterPromotion() async throws {
        let slots = InMemoryKeyProvider()
        let (journal, entry) = try await journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        await assertKilled(journal, KillingKeyProvider(slots, at: .afterPromoting))
        XCTAssertNil(try slots.pendingKey())
        let new = try XCTUnwrap(try slots.storedKey())

        try await assertOpensWith(new, not: old, keys: slots, entry: entry)
    }

    func testTheKillPointsThroughTheKeychainLogic() async throws {
        for point in KillingKeyProvider.Point.allCases {
            let slots = KeychainKeySlots(items: FakeKeychain(), account: "journal-data-key")
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path() + suffix) }
            let (journal, entry) = try await journalWithEntry(slots)
            let old = try XCTUnwrap(try slots.storedKey())
            await assertKilled(journal, KillingKeyProvider(slots, at: point))
            let new = try XCTUnwrap(try slots.pendingKey() ?? slots.storedKey())
            if point == .afterStoringPending {
                try await assertOpensWith(old, not: new, keys: slots, entry: entry)
            } else {
                try await assertOpensWith(new, not: old, keys: slots, entry: entry)
            }
            try await journal.close()
        }
    }

    func testAKeychainRekeyReplacesTheItemAndDeletesThePendingOne() async throws {
        let keychain = FakeKeychain()
        let slots = KeychainKeySlots(items: keychain, account: "journal-data-key")
        let (journal, entry) = try await journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        try await journal.rekey(path: path(), keys: slots)
        XCTAssertEqual(keychain.accounts, ["journal-data-key"])
        let new = try XCTUnwrap(keychain.item("journal-data-key"))
        try await assertOpensWith(new, not: old, keys: slots, entry: entry)
    }

    func testAProviderWithoutAPendingSlotCannotRekey() async throws {
        let keys = FirstKeyOnly()
        let (journal, entry) = try await journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        await assertKeyProviderError(.pendingKeyUnsupported) { try await journal.rekey(path: path(), keys: keys) }
        XCTAssertEqual(try keys.storedKey(), old)
        let read = try await journal.entry(id: entry.id)
        XCTAssertEqual(read.id, entry.id)
        try await Journal.openOrCreate(path: path(), keys: keys).close()
    }

    func testAFailedRekeyDropsItsPendingKey() async throws {
        let keys = InMemoryKeyProvider()
        let (journal, entry) = try await journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        try await journal.close()
        let path = path()
        await assertThrows(.closed) { try await journal.rekey(path: path, keys: keys) }
        XCTAssertEqual(try keys.storedKey(), old)
        XCTAssertNil(try keys.pendingKey())
        let other = try generateKey()
        try await assertOpensWith(old, not: other, keys: keys, entry: entry)
    }

    func testARekeyFromAStaleHandleKeepsTheJournalsKey() async throws {
        let keys = InMemoryKeyProvider()
        let (first, entry) = try await journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        let path = path()
        let second = try await Journal.openOrCreate(path: path, keys: keys)
        closeAtTearDown(second)
        try await first.rekey(path: path, keys: keys)
        let new = try XCTUnwrap(try keys.storedKey())

        // `second` still holds the old key: its re-key is refused and its
        // pending key dropped; the journal's key is kept.
        await assertThrows(.wrongKey) { try await second.rekey(path: path, keys: keys) }
        try await assertOpensWith(new, not: old, keys: keys, entry: entry)
    }

    func testARekeySettlesAnEarlierInterruptedOne() async throws {
        let keys = InMemoryKeyProvider()
        let (journal, entry) = try await journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        let stale = try generateKey()
        try keys.storePendingKey(stale)  // an earlier re-key killed before it ran
        try await journal.rekey(path: path(), keys: keys)
        let new = try XCTUnwrap(try keys.storedKey())
        XCTAssertNotEqual(new, old)
        XCTAssertNotEqual(new, stale)
        try await assertOpensWith(new, not: old, keys: keys, entry: entry)
    }

    func testAPendingKeyIsNeverReplaced() throws {
        let keys = InMemoryKeyProvider(key: key)
        let pending = try generateKey()
        try keys.storePendingKey(pending)
        XCTAssertThrowsError(try keys.storePendingKey(try generateKey())) { error in
            XCTAssertEqual(error as? KeyProviderError, .keyAlreadyStored)
        }
        XCTAssertEqual(try keys.pendingKey(), pending)
        XCTAssertThrowsError(try keys.storePendingKey(Data(count: 16))) { error in
            XCTAssertEqual(error as? KeyProviderError, .malformedKey(byteCount: 16))
        }
    }

    func testWhenNeitherKeyOpensTheJournalBothAreKept() async throws {
        try await makeJournal().close()
        let stored = try generateKey()
        let pending = try generateKey()
        let keys = InMemoryKeyProvider(key: stored, pending: pending)
        let path = path()
        await assertThrows(.wrongKey) { try await Journal.openOrCreate(path: path, keys: keys) }
        XCTAssertEqual(try keys.storedKey(), stored)
        XCTAssertEqual(try keys.pendingKey(), pending)
    }

    func testOnlyAPendingKeyThatOpensTheJournalIsPromoted() async throws {
        try await makeJournal().close()
        let keys = InMemoryKeyProvider(pending: key)
        try await Journal.openOrCreate(path: path(), keys: keys).close()
        XCTAssertEqual(try keys.storedKey(), key)
        XCTAssertNil(try keys.pendingKey())

        let wrong = try generateKey()
        let lost = InMemoryKeyProvider(pending: wrong)
        await assertKeyProviderError(.keyMissingForExistingJournal) { try await Journal.openOrCreate(path: path(), keys: lost) }
        XCTAssertNil(try lost.storedKey())
        XCTAssertEqual(try lost.pendingKey(), wrong, "kept")
    }

    func testAPendingKeyWithoutAJournalIsDropped() async throws {
        let keys = InMemoryKeyProvider(pending: try generateKey())
        try await Journal.openOrCreate(path: path(), keys: keys).close()
        let stored = try XCTUnwrap(try keys.storedKey())
        XCTAssertNil(try keys.pendingKey())
        try await Journal.open(path: path(), key: stored).close()
    }

    func testSettlingAPendingKeyAndRekeyingWaitForTheLock() async throws {
        let journal = try await makeJournal()
        let key = key!
        let keys = InMemoryKeyProvider(key: key, pending: try generateKey())
        let path = path()
        // Another re-key (here, or in an extension) holds the lock.
        let held = try await RekeyLock.acquire(forJournalAt: path)
        let finished = Locked([String]())
        let open = Task {
            let opened = (try? await Journal.openOrCreate(path: path, keys: keys)) != nil
            finished.withValue { $0.append("open: \(opened)") }
        }
        let rekey = Task {
            let rekeyed = (try? await journal.rekey(path: path, keys: keys)) != nil
            finished.withValue { $0.append("rekey: \(rekeyed)") }
        }
        // Both wait, however long they are given (here, a moment).
        try await Task.sleep(nanoseconds: 300_000_000)
        XCTAssertEqual(finished.current, [], "both wait for the lock")
        XCTAssertNotNil(try keys.pendingKey())
        XCTAssertEqual(try keys.storedKey(), key)
        held.release()
        try await withDeadline(60, "the waiting open and re-key") {
            await open.value
            await rekey.value
        }
        XCTAssertEqual(finished.current.sorted(), ["open: true", "rekey: true"])
        XCTAssertNil(try keys.pendingKey())
        XCTAssertNotEqual(try keys.storedKey(), key)
    }

    func testRekeysAndOpensFromManyTasksAgree() async throws {
        let keys = InMemoryKeyProvider()
        let (journal, entry) = try await journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        let path = path()
        let failures = Locked([String]())
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    do {
                        if i % 2 == 0 {
                            try await journal.rekey(path: path, keys: keys)
                        } else {
                            let other = try await Journal.openOrCreate(path: path, keys: keys)
                            try await other.close()
                        }
                    } catch {
                        failures.withValue { $0.append("\(i): \(error)") }
                    }
                }
            }
        }
        XCTAssertEqual(failures.current, [])
        let stored = try XCTUnwrap(try keys.storedKey())
        try await assertOpensWith(stored, not: old, keys: keys, entry: entry)
    }

    /// A re-key runs to its end even when its task is cancelled: the
    /// stored key is the journal's afterwards, whatever the moment of the
    /// cancellation.
    func testACancelledRekeyLeavesTheStoredKeyOpeningTheJournal() async throws {
        let keys = InMemoryKeyProvider()
        let (journal, entry) = try await journalWithEntry(keys)
        let path = path()
        for _ in 0..<5 {
            let rekey = Task { try await journal.rekey(path: path, keys: keys) }
            rekey.cancel()
            _ = try? await rekey.value
            XCTAssertNil(try keys.pendingKey(), "no re-key half done")
            let stored = try XCTUnwrap(try keys.storedKey())
            let check = try await Journal.open(path: path, key: stored)
            let read = try await check.entry(id: entry.id)
            XCTAssertEqual(read.note, entry.note)
            try await check.close()
        }
    }
}

/// Thrown where `KillingKeyProvider` stops, as if the app were killed there.
struct Killed: Error {}

/// Wraps a provider and stops a re-key at one point: the wrapped provider
/// then holds what a killed app would have left.
final class KillingKeyProvider: KeyProvider, @unchecked Sendable {
    enum Point: CaseIterable {
        /// The pending key is stored; the journal was not re-keyed.
        case afterStoringPending
        /// The journal is re-keyed; the pending key was not promoted.
        case beforePromoting
        /// The stored key was replaced; the pending key was not deleted.
        case afterReplacingStoredKey
        /// Promoted; the app was killed before the re-key returned.
        case afterPromoting
    }

    let keys: any KeyProvider
    let point: Point

    init(_ keys: any KeyProvider, at point: Point) {
        self.keys = keys
        self.point = point
    }

    func storedKey() throws -> Data? { try keys.storedKey() }
    func storeNewKey(_ key: Data) throws { try keys.storeNewKey(key) }
    func pendingKey() throws -> Data? { try keys.pendingKey() }
    func deletePendingKey() throws { try keys.deletePendingKey() }

    func storePendingKey(_ key: Data) throws {
        try keys.storePendingKey(key)
        if point == .afterStoringPending { throw Killed() }
    }

    func promotePendingKey(_ key: Data) throws {
        switch point {
        case .afterStoringPending, .beforePromoting:
            throw Killed()
        case .afterReplacingStoredKey:
            try keys.promotePendingKey(key)
            try keys.storePendingKey(key)  // as if its deletion never happened
            throw Killed()
        case .afterPromoting:
            try keys.promotePendingKey(key)
            throw Killed()
        }
    }
}

/// A provider written before the pending slot: the protocol's defaults.
final class FirstKeyOnly: KeyProvider, @unchecked Sendable {
    private let keys = InMemoryKeyProvider()
    func storedKey() throws -> Data? { try keys.storedKey() }
    func storeNewKey(_ key: Data) throws { try keys.storeNewKey(key) }
}

/// A Keychain of generic-password items by account, with `OSStatus` results;
/// `failing` makes every call return that status.
final class FakeKeychain: KeychainItems, @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String: Data] = [:]
    var failing: Int32?

    var accounts: [String] { lock.lock(); defer { lock.unlock() }; return items.keys.sorted() }

    func item(_ account: String) -> Data? { lock.lock(); defer { lock.unlock() }; return items[account] }

    func set(_ account: String, _ data: Data) { lock.lock(); defer { lock.unlock() }; items[account] = data }

    func copyData(account: String) -> (status: Int32, data: Data?) {
        lock.lock()
        defer { lock.unlock() }
        if let failing { return (failing, nil) }
        guard let data = items[account] else { return (KeychainStatus.itemNotFound, nil) }
        return (KeychainStatus.success, data)
    }

    func add(account: String, data: Data) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        if let failing { return failing }
        guard items[account] == nil else { return KeychainStatus.duplicateItem }
        items[account] = data
        return KeychainStatus.success
    }

    func update(account: String, data: Data) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        if let failing { return failing }
        guard items[account] != nil else { return KeychainStatus.itemNotFound }
        items[account] = data
        return KeychainStatus.success
    }

    func delete(account: String) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        if let failing { return failing }
        return items.removeValue(forKey: account) == nil ? KeychainStatus.itemNotFound : KeychainStatus.success
    }
}
