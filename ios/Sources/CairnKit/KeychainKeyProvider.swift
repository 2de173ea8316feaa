#if canImport(Security)
import Foundation
import Security

/// Keeps the journal's data key in the Keychain, as a generic password that
/// stays on this device (`kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`):
/// it is readable once the device has been unlocked after a restart (so
/// background work can log), and it is never synced nor restored from a
/// backup to another device.
///
/// The stored key is the item `service`/`account`; during a re-key the new
/// key is the item `service`/`account.pending`. Items are added, never
/// updated, except when a re-key promotes the pending key.
///
/// App extensions (a notification service extension, a widget) find the
/// same key when the app and they pass the same `service`, `account` and
/// `accessGroup`, a Keychain access group all of them list in their
/// `keychain-access-groups` entitlement (ios/README.md, "Sharing the journal
/// with app extensions").
public struct KeychainKeyProvider: KeyProvider {
    /// The items' `kSecAttrService`. The default, `<bundle id>.cairn`,
    /// differs between an app and its extensions: pass the same fixed
    /// string from each to share the key.
    public let service: String
    /// The stored key's `kSecAttrAccount`: one per journal.
    public let account: String
    /// A Keychain access group shared with app extensions (the full name,
    /// with the team ID prefix, e.g. `"ABCDE12345.com.example.shared"`), or
    /// `nil` for the app's default group.
    public let accessGroup: String?

    public init(
        service: String = (Bundle.main.bundleIdentifier ?? "app") + ".cairn",
        account: String = "journal-data-key",
        accessGroup: String? = nil
    ) {
        self.service = service
        self.account = account
        self.accessGroup = accessGroup
    }

    /// The pending key's `kSecAttrAccount`: `account + ".pending"`.
    public var pendingAccount: String { slots.pendingAccount }

    private var slots: KeychainKeySlots {
        KeychainKeySlots(items: SecKeychainItems(service: service, accessGroup: accessGroup), account: account)
    }

    public func storedKey() throws -> Data? { try slots.storedKey() }

    public func storeNewKey(_ key: Data) throws { try slots.storeNewKey(key) }

    public func pendingKey() throws -> Data? { try slots.pendingKey() }

    public func storePendingKey(_ key: Data) throws { try slots.storePendingKey(key) }

    public func promotePendingKey(_ key: Data) throws { try slots.promotePendingKey(key) }

    public func deletePendingKey() throws { try slots.deletePendingKey() }
}

/// ``KeychainItems`` through `SecItem…`.
struct SecKeychainItems: KeychainItems {
    let service: String
    let accessGroup: String?

    private func query(_ account: String) -> [String: Any] {
        var q: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecAttrSynchronizable as String: false,
            // macOS: the iOS-style keychain (no effect on iOS).
            kSecUseDataProtectionKeychain as String: true,
        ]
        if let accessGroup {
            q[kSecAttrAccessGroup as String] = accessGroup
        }
        return q
    }

    func copyData(account: String) -> (status: Int32, data: Data?) {
        var q = query(account)
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &item)
        return (status, item as? Data)
    }

    func add(account: String, data: Data) -> Int32 {
        var attributes = query(account)
        attributes[kSecValueData as String] = data
        attributes[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        return SecItemAdd(attributes as CFDictionary, nil)
    }

    func update(account: String, data: Data) -> Int32 {
        let changes: [String: Any] = [kSecValueData as String: data]
        return SecItemUpdate(query(account) as CFDictionary, changes as CFDictionary)
    }

    func delete(account: String) -> Int32 {
        SecItemDelete(query(account) as CFDictionary)
    }
}
#endif
