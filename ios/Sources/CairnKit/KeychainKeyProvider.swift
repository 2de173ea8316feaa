#if canImport(Security)
import Foundation
import Security

/// Keeps the journal's data key in the Keychain, as a generic password that
/// stays on this device (`kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`):
/// it is readable once the device has been unlocked after a restart (so
/// background work can log), and it is never synced nor restored from a
/// backup to another device.
///
/// Items are added, never updated: a stored key is never replaced.
public struct KeychainKeyProvider: KeyProvider {
    /// The item's `kSecAttrService`.
    public let service: String
    /// The item's `kSecAttrAccount`: one per journal.
    public let account: String
    /// A Keychain access group shared with app extensions, if any.
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

    private var itemQuery: [String: Any] {
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

    public func storedKey() throws -> Data? {
        var query = itemQuery
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let key = item as? Data else { throw KeyProviderError.malformedKey(byteCount: 0) }
            guard key.count == keyByteCount else {
                throw KeyProviderError.malformedKey(byteCount: key.count)
            }
            return key
        case errSecItemNotFound:
            return nil
        default:
            throw Self.error(status)
        }
    }

    public func storeNewKey(_ key: Data) throws {
        guard key.count == keyByteCount else {
            throw KeyProviderError.malformedKey(byteCount: key.count)
        }
        var attributes = itemQuery
        attributes[kSecValueData as String] = key
        attributes[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(attributes as CFDictionary, nil)
        guard status == errSecSuccess else { throw Self.error(status) }
    }

    private static func error(_ status: OSStatus) -> KeyProviderError {
        switch status {
        case errSecDuplicateItem: return .keyAlreadyStored
        case errSecInteractionNotAllowed: return .unavailableUntilFirstUnlock
        default: return .keychain(status: status)
        }
    }
}
#endif
