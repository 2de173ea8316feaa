import Cairn
import Foundation

/// Where a journal's 32-byte data key is kept.
///
/// Implementations must never replace a stored key: a journal sealed with it
/// would become unreadable. ``KeychainKeyProvider`` keeps it in the Keychain;
/// ``InMemoryKeyProvider`` is for tests and previews.
public protocol KeyProvider: Sendable {
    /// The stored key, or `nil` when none is stored.
    func storedKey() throws -> Data?

    /// Stores `key` as the first key. Throws
    /// ``KeyProviderError/keyAlreadyStored`` if one is stored (which is kept).
    func storeNewKey(_ key: Data) throws
}

/// Why a key could not be read or stored. No case carries key material.
public enum KeyProviderError: Error, Equatable, Sendable {
    /// A journal exists but no key is stored for it: the app was restored on
    /// another device (the key never leaves this one), or the Keychain was
    /// reset. A new key would not open the journal, so none was made and
    /// the journal was left as it is.
    case keyMissingForExistingJournal
    /// A key is already stored; it was kept.
    case keyAlreadyStored
    /// The stored item is not a 32-byte key.
    case malformedKey(byteCount: Int)
    /// The device has not been unlocked since it started, so the Keychain
    /// cannot hand out the key yet (e.g. a background launch after reboot).
    case unavailableUntilFirstUnlock
    /// Any other Keychain failure, with its `OSStatus`.
    case keychain(status: Int32)
}

/// The size of a Cairn data key.
let keyByteCount = 32

extension KeyProvider {
    /// The key for the journal at `path`: the stored one; or, when neither a
    /// key nor a journal exist yet, a new one from ``generateKey()``, stored
    /// before it is returned (so a journal never exists without its key).
    ///
    /// Never replaces a stored key. If two callers race to make the first
    /// key, both get the one that was stored.
    public func key(forJournalAt path: String) throws -> Data {
        if let key = try storedKey() {
            return key
        }
        if FileManager.default.fileExists(atPath: path) {
            throw KeyProviderError.keyMissingForExistingJournal
        }
        let key = try generateKey()
        do {
            try storeNewKey(key)
            return key
        } catch KeyProviderError.keyAlreadyStored {
            guard let stored = try storedKey() else { throw KeyProviderError.keyAlreadyStored }
            return stored
        }
    }
}

extension Journal {
    /// Opens the journal at `path` with the key `keys` holds; the first time,
    /// makes the key, then the journal.
    ///
    /// Blocks on disk and Keychain I/O: call it from a background task,
    /// never from the main thread. Throws ``KeyProviderError`` or
    /// `CairnError` (`WrongKey` when the stored key does not open the
    /// journal; the key and the journal are then left untouched).
    public static func openOrCreate(
        path: String, keys: KeyProvider, zones: ZoneDatabase? = nil
    ) throws -> Journal {
        let key = try keys.key(forJournalAt: path)
        return try Journal.openOrCreate(path: path, key: key, zones: zones)
    }
}

/// Keeps the key in memory only: for tests and SwiftUI previews.
public final class InMemoryKeyProvider: KeyProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var key: Data?

    /// A provider holding `key`, or nothing.
    public init(key: Data? = nil) {
        self.key = key
    }

    public func storedKey() throws -> Data? {
        lock.lock()
        defer { lock.unlock() }
        return key
    }

    public func storeNewKey(_ key: Data) throws {
        guard key.count == keyByteCount else {
            throw KeyProviderError.malformedKey(byteCount: key.count)
        }
        lock.lock()
        defer { lock.unlock() }
        guard self.key == nil else { throw KeyProviderError.keyAlreadyStored }
        self.key = key
    }
}
