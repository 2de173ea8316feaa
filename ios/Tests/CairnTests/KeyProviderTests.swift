import Cairn
@testable import CairnKit
import Foundation
import XCTest
#if canImport(Security)
import Security
#endif

final class KeyProviderTests: JournalTestCase {
    func testFirstOpenMakesTheKeyThenTheJournal() async throws {
        let keys = InMemoryKeyProvider()
        let journal = try await Journal.openOrCreate(path: path(), keys: keys)
        let entry = try await journal.log(entry: moodEntry(6))
        try await journal.close()

        let stored = try XCTUnwrap(try keys.storedKey())
        XCTAssertEqual(stored.count, 32)
        let reopened = try await Journal.openOrCreate(path: path(), keys: keys)
        closeAtTearDown(reopened)
        let read = try await reopened.entry(id: entry.id)
        XCTAssertEqual(read.id, entry.id)
        XCTAssertEqual(try keys.storedKey(), stored)
        try await Journal.open(path: path(), key: stored).close()
    }

    func testAStoredKeyIsUsedForANewJournal() async throws {
        let keys = InMemoryKeyProvider(key: key)
        try await Journal.openOrCreate(path: path(), keys: keys).close()
        try await Journal.open(path: path(), key: key).close()
    }

    func testAJournalWithoutItsKeyIsLeftAlone() async throws {
        try await makeJournal().close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path()))
        let keys = InMemoryKeyProvider()
        await assertKeyProviderError(.keyMissingForExistingJournal) { try await Journal.openOrCreate(path: path(), keys: keys) }
        XCTAssertNil(try keys.storedKey(), "no key was made")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path())), before)
    }

    func testAStoredKeyThatDoesNotOpenTheJournalIsKept() async throws {
        try await makeJournal().close()
        let other = try generateKey()
        let keys = InMemoryKeyProvider(key: other)
        let path = path()
        await assertThrows(.wrongKey) { try await Journal.openOrCreate(path: path, keys: keys) }
        XCTAssertEqual(try keys.storedKey(), other)
    }

    func testAStoredKeyIsNeverReplaced() throws {
        let keys = InMemoryKeyProvider(key: key)
        XCTAssertThrowsError(try keys.storeNewKey(try generateKey())) { error in
            XCTAssertEqual(error as? KeyProviderError, .keyAlreadyStored)
        }
        XCTAssertEqual(try keys.storedKey(), key)
        XCTAssertThrowsError(try InMemoryKeyProvider().storeNewKey(Data(count: 31))) { error in
            XCTAssertEqual(error as? KeyProviderError, .malformedKey(byteCount: 31))
        }
    }

    func testRacingFirstOpensAgreeOnOneKey() throws {
        let keys = InMemoryKeyProvider()
        let path = path()
        let found = Locked([Data]())
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let key = try? keys.key(forJournalAt: path)
            found.withValue { $0.append(key ?? Data()) }
        }
        let seen = found.current
        XCTAssertEqual(Set(seen).count, 1)
        XCTAssertEqual(seen.first?.count, 32)
    }

    func testAJournalRestoredWithoutItsKeyCanBeSetAsideForANewOne() async throws {
        // A journal as a backup restores it: the files, with a log not yet
        // copied into the main file, without the Keychain item.
        let original = try await makeJournal()
        let entry = try await original.log(entry: moodEntry(3, note: "kept in the old file"))
        let restored = path("restored.cairn")
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: path() + suffix) {
            try FileManager.default.copyItem(atPath: path() + suffix, toPath: restored + suffix)
        }
        let keys = InMemoryKeyProvider()
        await assertKeyProviderError(.keyMissingForExistingJournal) { try await Journal.openOrCreate(path: restored, keys: keys) }
        XCTAssertNil(try keys.storedKey())
        let before = try Data(contentsOf: URL(fileURLWithPath: restored))

        let aside = try Journal.setAside(path: restored)
        XCTAssertTrue(aside.hasPrefix(restored + ".unreadable-"), aside)
        XCTAssertFalse(FileManager.default.fileExists(atPath: restored))
        XCTAssertFalse(FileManager.default.fileExists(atPath: restored + "-wal"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: aside)), before, "moved, not changed")

        let fresh = try await Journal.openOrCreate(path: restored, keys: keys)
        closeAtTearDown(fresh)
        await assertThrows(.notFound, "a new journal") { try await fresh.entry(id: entry.id) }
        XCTAssertNotEqual(try keys.storedKey(), key)
        // Nothing was lost: the old key, were it found, still opens the old
        // file, log included.
        let old = try await Journal.open(path: aside, key: key)
        closeAtTearDown(old)
        let read = try await old.entry(id: entry.id)
        XCTAssertEqual(read.note, "kept in the old file")
    }

    func testSettingAsideNeverOverwrites() async throws {
        try await makeJournal().close()
        let first = try Journal.setAside(path: path())
        try await Journal.create(path: path(), key: key).close()
        let second = try Journal.setAside(path: path())
        XCTAssertNotEqual(first, second)
        XCTAssertTrue(FileManager.default.fileExists(atPath: first))
        XCTAssertTrue(FileManager.default.fileExists(atPath: second))
        XCTAssertThrowsError(try Journal.setAside(path: path()), "no journal to move")
    }

    func testKeychainStatusesBecomeTypedErrors() async throws {
        let keychain = FakeKeychain()
        let slots = KeychainKeySlots(items: keychain, account: "a")
        XCTAssertNil(try slots.storedKey())
        XCTAssertNil(try slots.pendingKey())
        XCTAssertNoThrow(try slots.deletePendingKey(), "nothing to delete is fine")
        try slots.storeNewKey(key)
        XCTAssertThrowsError(try slots.storeNewKey(try generateKey())) { error in
            XCTAssertEqual(error as? KeyProviderError, .keyAlreadyStored)
        }
        let pending = try generateKey()
        try slots.storePendingKey(pending)
        XCTAssertEqual(keychain.accounts, ["a", "a.pending"])
        XCTAssertThrowsError(try slots.storePendingKey(try generateKey())) { error in
            XCTAssertEqual(error as? KeyProviderError, .keyAlreadyStored)
        }
        XCTAssertEqual(try slots.storedKey(), key)
        XCTAssertEqual(try slots.pendingKey(), pending)

        keychain.set("a", Data(count: 5))
        XCTAssertThrowsError(try slots.storedKey()) { error in
            XCTAssertEqual(error as? KeyProviderError, .malformedKey(byteCount: 5))
        }
        keychain.failing = KeychainStatus.interactionNotAllowed
        XCTAssertThrowsError(try slots.storedKey()) { error in
            XCTAssertEqual(error as? KeyProviderError, .unavailableUntilFirstUnlock)
        }
        await assertKeyProviderError(.unavailableUntilFirstUnlock) { try await Journal.openOrCreate(path: path(), keys: slots) }
        keychain.failing = -34018  // errSecMissingEntitlement
        XCTAssertThrowsError(try slots.promotePendingKey(pending)) { error in
            XCTAssertEqual(error as? KeyProviderError, .keychain(status: -34018))
        }
        keychain.failing = nil
        XCTAssertEqual(try slots.pendingKey(), pending, "a failed promotion keeps the pending key")
    }

    func testPromotionStoresTheKeyWhenNoneIsStored() throws {
        let keychain = FakeKeychain()
        let slots = KeychainKeySlots(items: keychain, account: "a")
        try slots.storePendingKey(key)
        try slots.promotePendingKey(key)
        XCTAssertEqual(keychain.accounts, ["a"])
        XCTAssertEqual(try slots.storedKey(), key)
    }

    #if canImport(Security)
    func testKeychainProviderStoresAndNeverReplacesTheKey() async throws {
        let keys = KeychainKeyProvider(service: "app.cairn.tests.\(UUID().uuidString)")
        do {
            XCTAssertNil(try keys.storedKey())
        } catch KeyProviderError.keychain(status: -34018) {
            throw XCTSkip("no Keychain entitlement in this test host (errSecMissingEntitlement)")
        }
        defer { deleteKeychainItem(keys) }
        let journal = try await Journal.openOrCreate(path: path(), keys: keys)
        try await journal.close()
        let stored = try XCTUnwrap(try keys.storedKey())
        XCTAssertThrowsError(try keys.storeNewKey(try generateKey())) { error in
            XCTAssertEqual(error as? KeyProviderError, .keyAlreadyStored)
        }
        XCTAssertEqual(try keys.storedKey(), stored)
        try await Journal.open(path: path(), key: stored).close()
    }

    func testKeychainProviderRekeys() async throws {
        let keys = KeychainKeyProvider(service: "app.cairn.tests.\(UUID().uuidString)")
        do {
            XCTAssertNil(try keys.storedKey())
        } catch KeyProviderError.keychain(status: -34018) {
            throw XCTSkip("no Keychain entitlement in this test host (errSecMissingEntitlement)")
        }
        defer { deleteKeychainItem(keys) }
        let journal = try await Journal.openOrCreate(path: path(), keys: keys)
        closeAtTearDown(journal)
        let old = try XCTUnwrap(try keys.storedKey())
        try await journal.rekey(path: path(), keys: keys)
        let new = try XCTUnwrap(try keys.storedKey())
        XCTAssertNotEqual(new, old)
        XCTAssertNil(try keys.pendingKey())
        try await Journal.open(path: path(), key: new).close()
    }

    private func deleteKeychainItem(_ keys: KeychainKeyProvider) {
        for account in [keys.account, keys.pendingAccount] {
            let query: [String: Any] = [
                kSecClass as String: kSecClassGenericPassword,
                kSecAttrService as String: keys.service,
                kSecAttrAccount as String: account,
                kSecUseDataProtectionKeychain as String: true,
            ]
            SecItemDelete(query as CFDictionary)
        }
    }
    #endif
}

/// Asserts that `body` throws `expected`.
func assertKeyProviderError<T>(
    _ expected: KeyProviderError, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        XCTFail("expected \(expected), nothing was thrown", file: file, line: line)
    } catch {
        XCTAssertEqual(error as? KeyProviderError, expected, "\(error)", file: file, line: line)
    }
}
