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
    private func journalWithEntry(_ keys: KeyProvider) throws -> (Journal, Entry) {
        let journal = try Journal.openOrCreate(path: path(), keys: keys)
        addTeardownBlock { try? journal.close() }
        return (journal, try journal.log(entry: moodEntry(4, note: "before the re-key")))
    }

    /// Opens the journal through `keys` as the next launch would, and checks
    /// it holds `entry`, that `expected` is the stored key and opens it,
    /// that `other` does not, and that no pending key is left.
    private func assertOpensWith(
        _ expected: Data, not other: Data, keys: KeyProvider, entry: Entry,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let journal = try Journal.openOrCreate(path: path(), keys: keys)
        XCTAssertEqual(try journal.entry(id: entry.id).note, entry.note, file: file, line: line)
        try journal.close()
        XCTAssertEqual(try keys.storedKey(), expected, "stored key", file: file, line: line)
        XCTAssertNil(try keys.pendingKey(), "pending key left", file: file, line: line)
        XCTAssertNoThrow(try Journal.open(path: path(), key: expected).close(), file: file, line: line)
        assertThrows(.wrongKey, file: file, line: line) { try Journal.open(path: path(), key: other) }
    }

    func testRekeyReplacesTheKeyAndLeavesNoPendingKey() throws {
        let keys = InMemoryKeyProvider()
        let (journal, entry) = try journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())

        let report = try journal.rekey(path: path(), keys: keys)
        XCTAssertGreaterThanOrEqual(report.resealed, 1)
        XCTAssertEqual(report.corrupted, [])
        let new = try XCTUnwrap(try keys.storedKey())
        XCTAssertNotEqual(new, old)
        XCTAssertEqual(new.count, 32)
        XCTAssertEqual(try journal.entry(id: entry.id).id, entry.id, "the handle keeps working")
        _ = try journal.log(entry: moodEntry(5))
        try assertOpensWith(new, not: old, keys: keys, entry: entry)
        XCTAssertTrue(FileManager.default.fileExists(atPath: RekeyLock.path(forJournalAt: path())))
    }

    func testKilledAfterStoringThePendingKey() throws {
        let slots = InMemoryKeyProvider()
        let (journal, entry) = try journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        let killing = KillingKeyProvider(slots, at: .afterStoringPending)
        XCTAssertThrowsError(try journal.rekey(path: path(), keys: killing)) { XCTAssertTrue($0 is Killed) }
        let pending = try XCTUnwrap(try slots.pendingKey(), "the new key was stored as pending")

        // The re-key never ran: the stored key opens it, the pending one is dropped.
        try assertOpensWith(old, not: pending, keys: slots, entry: entry)
    }

    func testKilledAfterTheRekeyBeforePromotion() throws {
        let slots = InMemoryKeyProvider()
        let (journal, entry) = try journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        let killing = KillingKeyProvider(slots, at: .beforePromoting)
        XCTAssertThrowsError(try journal.rekey(path: path(), keys: killing)) { XCTAssertTrue($0 is Killed) }
        let new = try XCTUnwrap(try slots.pendingKey())
        XCTAssertEqual(try slots.storedKey(), old, "not promoted")

        // The re-key committed: the stored key is wrong, the pending one opens it and is promoted.
        try assertOpensWith(new, not: old, keys: slots, entry: entry)
    }

    func testKilledDuringPromotionBeforeThePendingKeyIsDeleted() throws {
        let slots = InMemoryKeyProvider()
        let (journal, entry) = try journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        let killing = KillingKeyProvider(slots, at: .afterReplacingStoredKey)
        XCTAssertThrowsError(try journal.rekey(path: path(), keys: killing)) { XCTAssertTrue($0 is Killed) }
        let new = try XCTUnwrap(try slots.storedKey())
        XCTAssertNotEqual(new, old)
        XCTAssertEqual(try slots.pendingKey(), new, "stored and pending are both the new key")

        try assertOpensWith(new, not: old, keys: slots, entry: entry)
    }

    func testKilledAfterPromotion() throws {
        let slots = InMemoryKeyProvider()
        let (journal, entry) = try journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        let killing = KillingKeyProvider(slots, at: .afterPromoting)
        XCTAssertThrowsError(try journal.rekey(path: path(), keys: killing)) { XCTAssertTrue($0 is Killed) }
        XCTAssertNil(try slots.pendingKey())
        let new = try XCTUnwrap(try slots.storedKey())

        try assertOpensWith(new, not: old, keys: slots, entry: entry)
    }

    func testTheKillPointsThroughTheKeychainLogic() throws {
        for point in KillingKeyProvider.Point.allCases {
            let slots = KeychainKeySlots(items: FakeKeychain(), account: "journal-data-key")
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path() + suffix) }
            let (journal, entry) = try journalWithEntry(slots)
            let old = try XCTUnwrap(try slots.storedKey())
            XCTAssertThrowsError(try journal.rekey(path: path(), keys: KillingKeyProvider(slots, at: point)))
            let new = try XCTUnwrap(try slots.pendingKey() ?? slots.storedKey())
            if point == .afterStoringPending {
                try assertOpensWith(old, not: new, keys: slots, entry: entry)
            } else {
                try assertOpensWith(new, not: old, keys: slots, entry: entry)
            }
            try journal.close()
        }
    }

    func testAKeychainRekeyReplacesTheItemAndDeletesThePendingOne() throws {
        let keychain = FakeKeychain()
        let slots = KeychainKeySlots(items: keychain, account: "journal-data-key")
        let (journal, entry) = try journalWithEntry(slots)
        let old = try XCTUnwrap(try slots.storedKey())
        try journal.rekey(path: path(), keys: slots)
        XCTAssertEqual(keychain.accounts, ["journal-data-key"])
        let new = try XCTUnwrap(keychain.item("journal-data-key"))
        try assertOpensWith(new, not: old, keys: slots, entry: entry)
    }

    func testAProviderWithoutAPendingSlotCannotRekey() throws {
        let keys = FirstKeyOnly()
        let (journal, entry) = try journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        XCTAssertThrowsError(try journal.rekey(path: path(), keys: keys)) { error in
            XCTAssertEqual(error as? KeyProviderError, .pendingKeyUnsupported)
        }
        XCTAssertEqual(try keys.storedKey(), old)
        XCTAssertEqual(try journal.entry(id: entry.id).id, entry.id)
        XCTAssertNoThrow(try Journal.openOrCreate(path: path(), keys: keys).close())
    }

    func testAFailedRekeyDropsItsPendingKey() throws {
        let keys = InMemoryKeyProvider()
        let (journal, entry) = try journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        try journal.close()
        assertThrows(.closed) { try journal.rekey(path: path(), keys: keys) }
        XCTAssertEqual(try keys.storedKey(), old)
        XCTAssertNil(try keys.pendingKey())
        let other = try generateKey()
        try assertOpensWith(old, not: other, keys: keys, entry: entry)
    }

    func testARekeyFromAStaleHandleKeepsTheJournalsKey() throws {
        let keys = InMemoryKeyProvider()
        let (first, entry) = try journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        let second = try Journal.openOrCreate(path: path(), keys: keys)
        defer { try? second.close() }
        try first.rekey(path: path(), keys: keys)
        let new = try XCTUnwrap(try keys.storedKey())

        // `second` still holds the old key: its re-key is refused and its
        // pending key dropped; the journal's key is kept.
        assertThrows(.wrongKey) { try second.rekey(path: path(), keys: keys) }
        try assertOpensWith(new, not: old, keys: keys, entry: entry)
    }

    func testARekeySettlesAnEarlierInterruptedOne() throws {
        let keys = InMemoryKeyProvider()
        let (journal, entry) = try journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        let stale = try generateKey()
        try keys.storePendingKey(stale)  // an earlier re-key killed before it ran
        try journal.rekey(path: path(), keys: keys)
        let new = try XCTUnwrap(try keys.storedKey())
        XCTAssertNotEqual(new, old)
        XCTAssertNotEqual(new, stale)
        try assertOpensWith(new, not: old, keys: keys, entry: entry)
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

    func testWhenNeitherKeyOpensTheJournalBothAreKept() throws {
        try makeJournal().close()
        let stored = try generateKey()
        let pending = try generateKey()
        let keys = InMemoryKeyProvider(key: stored, pending: pending)
        assertThrows(.wrongKey) { try Journal.openOrCreate(path: path(), keys: keys) }
        XCTAssertEqual(try keys.storedKey(), stored)
        XCTAssertEqual(try keys.pendingKey(), pending)
    }

    func testOnlyAPendingKeyThatOpensTheJournalIsPromoted() throws {
        try makeJournal().close()
        let keys = InMemoryKeyProvider(pending: key)
        try Journal.openOrCreate(path: path(), keys: keys).close()
        XCTAssertEqual(try keys.storedKey(), key)
        XCTAssertNil(try keys.pendingKey())

        let wrong = try generateKey()
        let lost = InMemoryKeyProvider(pending: wrong)
        XCTAssertThrowsError(try Journal.openOrCreate(path: path(), keys: lost)) { error in
            XCTAssertEqual(error as? KeyProviderError, .keyMissingForExistingJournal)
        }
        XCTAssertNil(try lost.storedKey())
        XCTAssertEqual(try lost.pendingKey(), wrong, "kept")
    }

    func testAPendingKeyWithoutAJournalIsDropped() throws {
        let keys = InMemoryKeyProvider(pending: try generateKey())
        try Journal.openOrCreate(path: path(), keys: keys).close()
        let stored = try XCTUnwrap(try keys.storedKey())
        XCTAssertNil(try keys.pendingKey())
        XCTAssertNoThrow(try Journal.open(path: path(), key: stored).close())
    }

    func testSettlingAPendingKeyAndRekeyingWaitForTheLock() throws {
        let journal = try makeJournal()
        let keys = InMemoryKeyProvider(key: key, pending: try generateKey())
        let path = path()
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        // Another re-key (here, or in an extension) holds the lock.
        DispatchQueue.global().async {
            _ = try? RekeyLock.holding(forJournalAt: path) {
                entered.signal()
                release.wait()
            }
        }
        entered.wait()
        let finished = Locked([String]())
        DispatchQueue.global().async {
            let result = Result { try Journal.openOrCreate(path: path, keys: keys).close() }
            finished.withValue { $0.append("open: \((try? result.get()) != nil)") }
            done.signal()
        }
        DispatchQueue.global().async {
            let result = Result { try journal.rekey(path: path, keys: keys) }
            finished.withValue { $0.append("rekey: \((try? result.get()) != nil)") }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(finished.current, [], "both wait for the lock")
        XCTAssertNotNil(try keys.pendingKey())
        XCTAssertEqual(try keys.storedKey(), key)
        release.signal()
        done.wait()
        done.wait()
        XCTAssertEqual(finished.current.sorted(), ["open: true", "rekey: true"])
        XCTAssertNil(try keys.pendingKey())
        XCTAssertNotEqual(try keys.storedKey(), key)
    }

    func testRekeysAndOpensFromManyThreadsAgree() throws {
        let keys = InMemoryKeyProvider()
        let (journal, entry) = try journalWithEntry(keys)
        let old = try XCTUnwrap(try keys.storedKey())
        let path = path()
        let failures = Locked([String]())
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            do {
                if i % 2 == 0 {
                    try journal.rekey(path: path, keys: keys)
                } else {
                    let other = try Journal.openOrCreate(path: path, keys: keys)
                    try other.close()
                }
            } catch {
                failures.withValue { $0.append("\(i): \(error)") }
            }
        }
        XCTAssertEqual(failures.current, [])
        let stored = try XCTUnwrap(try keys.storedKey())
        try assertOpensWith(stored, not: old, keys: keys, entry: entry)
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

    let keys: KeyProvider
    let point: Point

    init(_ keys: KeyProvider, at point: Point) {
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
