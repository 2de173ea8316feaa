import Cairn
import CairnKit
import Foundation
import XCTest
#if canImport(Security)
import Security
#endif

final class KeyProviderTests: JournalTestCase {
    func testFirstOpenMakesTheKeyThenTheJournal() throws {
        let keys = InMemoryKeyProvider()
        let journal = try Journal.openOrCreate(path: path(), keys: keys)
        let entry = try journal.log(entry: moodEntry(6))
        try journal.close()

        let stored = try XCTUnwrap(try keys.storedKey())
        XCTAssertEqual(stored.count, 32)
        let reopened = try Journal.openOrCreate(path: path(), keys: keys)
        defer { XCTAssertNoThrow(try reopened.close()) }
        XCTAssertEqual(try reopened.entry(id: entry.id).id, entry.id)
        XCTAssertEqual(try keys.storedKey(), stored)
        XCTAssertNoThrow(try Journal.open(path: path(), key: stored).close())
    }

    func testAStoredKeyIsUsedForANewJournal() throws {
        let keys = InMemoryKeyProvider(key: key)
        try Journal.openOrCreate(path: path(), keys: keys).close()
        XCTAssertNoThrow(try Journal.open(path: path(), key: key).close())
    }

    func testAJournalWithoutItsKeyIsLeftAlone() throws {
        try makeJournal().close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path()))
        let keys = InMemoryKeyProvider()
        XCTAssertThrowsError(try Journal.openOrCreate(path: path(), keys: keys)) { error in
            XCTAssertEqual(error as? KeyProviderError, .keyMissingForExistingJournal)
        }
        XCTAssertNil(try keys.storedKey(), "no key was made")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path())), before)
    }

    func testAStoredKeyThatDoesNotOpenTheJournalIsKept() throws {
        try makeJournal().close()
        let other = try generateKey()
        let keys = InMemoryKeyProvider(key: other)
        assertThrows(.wrongKey) { try Journal.openOrCreate(path: path(), keys: keys) }
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

    #if canImport(Security)
    func testKeychainProviderStoresAndNeverReplacesTheKey() throws {
        let keys = KeychainKeyProvider(service: "app.cairn.tests.\(UUID().uuidString)")
        do {
            XCTAssertNil(try keys.storedKey())
        } catch KeyProviderError.keychain(status: -34018) {
            throw XCTSkip("no Keychain entitlement in this test host (errSecMissingEntitlement)")
        }
        defer { deleteKeychainItem(keys) }
        let journal = try Journal.openOrCreate(path: path(), keys: keys)
        try journal.close()
        let stored = try XCTUnwrap(try keys.storedKey())
        XCTAssertThrowsError(try keys.storeNewKey(try generateKey())) { error in
            XCTAssertEqual(error as? KeyProviderError, .keyAlreadyStored)
        }
        XCTAssertEqual(try keys.storedKey(), stored)
        XCTAssertNoThrow(try Journal.open(path: path(), key: stored).close())
    }

    private func deleteKeychainItem(_ keys: KeychainKeyProvider) {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: keys.service,
            kSecAttrAccount as String: keys.account,
            kSecUseDataProtectionKeychain as String: true,
        ]
        SecItemDelete(query as CFDictionary)
    }
    #endif
}
