import Foundation

/// The `OSStatus` values ``KeychainKeySlots`` tells apart (Security's
/// `SecBase.h`), here so that the logic builds and is tested without Security.
enum KeychainStatus {
    static let success: Int32 = 0                   // errSecSuccess
    static let itemNotFound: Int32 = -25300         // errSecItemNotFound
    static let duplicateItem: Int32 = -25299        // errSecDuplicateItem
    static let interactionNotAllowed: Int32 = -25308 // errSecInteractionNotAllowed
}

/// The Keychain calls a key provider makes, on the generic-password items of
/// one service (and access group), named by account. Each returns the
/// `OSStatus`. `add` makes the item `AfterFirstUnlockThisDeviceOnly`.
protocol KeychainItems: Sendable {
    func copyData(account: String) -> (status: Int32, data: Data?)
    func add(account: String, data: Data) -> Int32
    func update(account: String, data: Data) -> Int32
    func delete(account: String) -> Int32
}

/// ``KeychainKeyProvider``'s logic: the stored key is the item named
/// `account`, the pending key the item named `account + ".pending"`.
/// Items are added, never updated, except the stored key when the pending
/// key is promoted.
struct KeychainKeySlots: KeyProvider {
    let items: any KeychainItems
    let account: String

    var pendingAccount: String { account + ".pending" }

    func storedKey() throws -> Data? { try read(account) }

    func storeNewKey(_ key: Data) throws { try add(key, as: account) }

    func pendingKey() throws -> Data? { try read(pendingAccount) }

    func storePendingKey(_ key: Data) throws { try add(key, as: pendingAccount) }

    func promotePendingKey(_ key: Data) throws {
        try Self.check(key)
        var status = items.update(account: account, data: key)
        if status == KeychainStatus.itemNotFound {
            status = items.add(account: account, data: key)
            if status == KeychainStatus.duplicateItem {  // added meanwhile
                status = items.update(account: account, data: key)
            }
        }
        guard status == KeychainStatus.success else { throw Self.error(status) }
        try deletePendingKey()
    }

    func deletePendingKey() throws {
        let status = items.delete(account: pendingAccount)
        guard status == KeychainStatus.success || status == KeychainStatus.itemNotFound else {
            throw Self.error(status)
        }
    }

    private func read(_ account: String) throws -> Data? {
        let (status, data) = items.copyData(account: account)
        switch status {
        case KeychainStatus.success:
            guard let key = data else { throw KeyProviderError.malformedKey(byteCount: 0) }
            try Self.check(key)
            return key
        case KeychainStatus.itemNotFound:
            return nil
        default:
            throw Self.error(status)
        }
    }

    private func add(_ key: Data, as account: String) throws {
        try Self.check(key)
        let status = items.add(account: account, data: key)
        guard status == KeychainStatus.success else { throw Self.error(status) }
    }

    private static func check(_ key: Data) throws {
        guard key.count == keyByteCount else {
            throw KeyProviderError.malformedKey(byteCount: key.count)
        }
    }

    static func error(_ status: Int32) -> KeyProviderError {
        switch status {
        case KeychainStatus.duplicateItem: return .keyAlreadyStored
        case KeychainStatus.interactionNotAllowed: return .unavailableUntilFirstUnlock
        default: return .keychain(status: status)
        }
    }
}
