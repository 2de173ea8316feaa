import Cairn
import Foundation

/// Where a journal's 32-byte data key is kept.
///
/// Implementations must never replace a stored key, except by promoting the
/// pending key (``promotePendingKey(_:)``) once the journal is sealed with
/// it: a journal sealed with a replaced key would become unreadable.
/// ``KeychainKeyProvider`` keeps it in the Keychain; ``InMemoryKeyProvider``
/// is for tests and previews.
///
/// A re-key (``Journal/rekey(path:keys:zones:)``) uses a second slot, the
/// *pending* key: the new key is stored there before the journal is sealed
/// with it, so a key is never lost wherever the app is killed. A provider
/// that implements only the first two requirements (the pending slot's have
/// defaults) opens journals as before but cannot re-key.
public protocol KeyProvider: Sendable {
    /// The stored key, or `nil` when none is stored.
    func storedKey() throws -> Data?

    /// Stores `key` as the first key. Throws
    /// ``KeyProviderError/keyAlreadyStored`` if one is stored (which is kept).
    func storeNewKey(_ key: Data) throws

    /// The pending key (a re-key's new key), or `nil` when none is stored.
    /// Default: `nil`.
    func pendingKey() throws -> Data?

    /// Stores `key` as the pending key, next to the stored one. Throws
    /// ``KeyProviderError/keyAlreadyStored`` if a pending key is stored
    /// (which is kept: the journal may already be sealed with it). Default:
    /// throws ``KeyProviderError/pendingKeyUnsupported``.
    func storePendingKey(_ key: Data) throws

    /// Makes `key`, the pending key, the stored key (replacing it, or storing
    /// it if none is), then deletes the pending key. Called only once the
    /// journal is sealed with `key`. Default: throws
    /// ``KeyProviderError/pendingKeyUnsupported``.
    func promotePendingKey(_ key: Data) throws

    /// Deletes the pending key, if any; the stored key is kept. Default:
    /// does nothing.
    func deletePendingKey() throws
}

extension KeyProvider {
    public func pendingKey() throws -> Data? { nil }

    public func storePendingKey(_ key: Data) throws {
        throw KeyProviderError.pendingKeyUnsupported
    }

    public func promotePendingKey(_ key: Data) throws {
        throw KeyProviderError.pendingKeyUnsupported
    }

    public func deletePendingKey() throws {}
}

/// Why a key could not be read or stored. No case carries key material.
public enum KeyProviderError: Error, Equatable, Sendable {
    /// A journal exists but no key is stored for it: the app was restored on
    /// another device (the key never leaves this one), or the Keychain was
    /// reset. A new key would not open the journal, so none was made and
    /// the journal was left as it is. Nothing can open this journal on this
    /// device; see ``Journal/setAside(path:)`` to start a new one.
    case keyMissingForExistingJournal
    /// A key (or, from ``KeyProvider/storePendingKey(_:)``, a pending key)
    /// is already stored; it was kept.
    case keyAlreadyStored
    /// The stored item is not a 32-byte key.
    case malformedKey(byteCount: Int)
    /// The device has not been unlocked since it started, so the Keychain
    /// cannot hand out the key yet (e.g. a background launch after reboot).
    case unavailableUntilFirstUnlock
    /// Any other Keychain failure, with its `OSStatus`.
    case keychain(status: Int32)
    /// The provider has no pending-key slot, so it cannot re-key.
    case pendingKeyUnsupported
}

/// The size of a Cairn data key.
let keyByteCount = 32

extension KeyProvider {
    /// The key for the journal at `path`: the stored one; or, when neither a
    /// key nor a journal exist yet, a new one from ``generateKey()``, stored
    /// before it is returned (so a journal never exists without its key).
    ///
    /// Never replaces a stored key. If two callers race to make the first
    /// key, both get the one that was stored. Ignores the pending key:
    /// ``Journal/openOrCreate(path:keys:zones:)`` is what settles it.
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
    /// If a re-key was interrupted (a pending key is stored), settles it
    /// first: when the stored key opens the journal, the re-key never
    /// committed and the pending key is deleted; when the stored key is
    /// wrong but the pending one opens it, the re-key committed and the
    /// pending key is promoted to the stored key.
    ///
    /// Reads the key through `keys` (a Keychain read for
    /// ``KeychainKeyProvider``) on the calling task, then opens the journal on
    /// its own threads. Throws ``KeyProviderError``
    /// (``KeyProviderError/keyMissingForExistingJournal`` when the journal
    /// exists but no key for it is stored) or `CairnError` (`.wrongKey` when
    /// neither the stored nor a pending key opens the journal; the keys and
    /// the journal are then left untouched).
    public static func openOrCreate(
        path: String, keys: any KeyProvider, zones: ZoneDatabase? = nil
    ) async throws -> Journal {
        // The usual case: no re-key under way, and the stored key opens it.
        if try keys.pendingKey() == nil {
            let key = try keys.key(forJournalAt: path)
            do {
                return try await Journal.openOrCreate(path: path, key: key, zones: zones)
            } catch CairnError.wrongKey {
                // Another process may have just re-keyed it: look again,
                // while no re-key can run.
            }
        }
        return try await RekeyLock.holding(forJournalAt: path) {
            try await openSettlingPendingKey(path: path, keys: keys, zones: zones)
        }
    }

    /// Re-keys this journal, which is at `path`, crash-safely: a new key is
    /// stored as `keys`' pending key, the journal is re-sealed with it in one
    /// transaction, then the pending key is promoted to the stored key.
    /// Whenever the app is killed, ``openOrCreate(path:keys:zones:)`` later
    /// opens the journal with the right key and deletes the other one.
    ///
    /// Other re-keys and opens that must settle a pending key, in this
    /// process or another one sharing the journal (an app extension), wait
    /// until it is done: they lock `<path>.keylock`, a file left next to the
    /// journal. `zones` is used only to open the journal again if a pending
    /// key from an earlier, interrupted re-key must be settled first.
    ///
    /// Once started, a re-key runs to its end even if the calling task is
    /// cancelled (the keys would otherwise disagree with the journal); the
    /// call then returns as usual, and the caller sees the cancellation at
    /// its next suspension point.
    ///
    /// Throws ``KeyProviderError/pendingKeyUnsupported`` (nothing changed)
    /// if `keys` has no pending slot, and `CairnError.wrongKey` if this
    /// handle's key is no longer the journal's (another handle re-keyed it).
    /// If the promotion fails, the journal is already sealed with the new
    /// key, which stays stored as the pending key: the next
    /// ``openOrCreate(path:keys:zones:)`` promotes it.
    @discardableResult
    public func rekey(path: String, keys: any KeyProvider, zones: ZoneDatabase? = nil) async throws -> RekeyReport {
        // A detached task does not inherit the caller's cancellation: a
        // cancelled `rekey(newKey:)` would throw while its write goes on,
        // and the pending key would be dropped under a journal sealed with it.
        try await Task.detached(priority: Task.currentPriority) { [self] in
            try await RekeyLock.holding(forJournalAt: path) {
                try await self.rekeyHoldingLock(path: path, keys: keys, zones: zones)
            }
        }.value
    }

    private func rekeyHoldingLock(path: String, keys: any KeyProvider, zones: ZoneDatabase?) async throws -> RekeyReport {
        if try keys.pendingKey() != nil {
            // An earlier re-key was interrupted: settle it first.
            try await Journal.openSettlingPendingKey(path: path, keys: keys, zones: zones).close()
        }
        let newKey = try generateKey()
        try keys.storePendingKey(newKey)
        let report: RekeyReport
        do {
            report = try await rekey(newKey: newKey)
        } catch {
            // Not committed (one transaction): the pending key is not
            // needed. Checked by opening with the stored key, so that a
            // commit that reported an error keeps its key.
            if let journal = try? await Journal.openSettlingPendingKey(path: path, keys: keys, zones: zones) {
                try? await journal.close()
            }
            throw error
        }
        try keys.promotePendingKey(newKey)
        return report
    }

    /// `openOrCreate` when a pending key may be stored; runs under the
    /// journal's ``RekeyLock``.
    static func openSettlingPendingKey(
        path: String, keys: any KeyProvider, zones: ZoneDatabase?
    ) async throws -> Journal {
        let pending = try keys.pendingKey()
        let exists = FileManager.default.fileExists(atPath: path)
        guard let stored = try keys.storedKey() else {
            if exists {
                guard let pending else { throw KeyProviderError.keyMissingForExistingJournal }
                // Only the pending key is left: it is the journal's if it opens it.
                let journal: Journal
                do {
                    journal = try await Journal.open(path: path, key: pending, zones: zones)
                } catch CairnError.wrongKey {
                    throw KeyProviderError.keyMissingForExistingJournal
                }
                return try await promote(pending, keys: keys, opened: journal)
            }
            // No journal: a pending key left over has nothing to open.
            if pending != nil { try keys.deletePendingKey() }
            return try await Journal.openOrCreate(path: path, key: keys.key(forJournalAt: path), zones: zones)
        }
        let journal: Journal
        do {
            journal = try await Journal.openOrCreate(path: path, key: stored, zones: zones)
        } catch CairnError.wrongKey where pending != nil {
            // The re-key committed, but its key was not promoted.
            let journal = try await Journal.open(path: path, key: pending!, zones: zones)
            return try await promote(pending!, keys: keys, opened: journal)
        }
        if pending != nil {
            // The stored key opens it: the re-key never committed.
            do {
                try keys.deletePendingKey()
            } catch {
                try? await journal.close()
                throw error
            }
        }
        return journal
    }

    private static func promote(_ key: Data, keys: any KeyProvider, opened journal: Journal) async throws -> Journal {
        do {
            try keys.promotePendingKey(key)
        } catch {
            try? await journal.close()
            throw error
        }
        return journal
    }
}

/// Keeps the keys in memory only: for tests and SwiftUI previews.
public final class InMemoryKeyProvider: KeyProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var key: Data?
    private var pending: Data?

    /// A provider holding `key` and `pending` (a re-key's new key), or nothing.
    public init(key: Data? = nil, pending: Data? = nil) {
        self.key = key
        self.pending = pending
    }

    public func storedKey() throws -> Data? {
        lock.lock()
        defer { lock.unlock() }
        return key
    }

    public func storeNewKey(_ key: Data) throws {
        try Self.check(key)
        lock.lock()
        defer { lock.unlock() }
        guard self.key == nil else { throw KeyProviderError.keyAlreadyStored }
        self.key = key
    }

    public func pendingKey() throws -> Data? {
        lock.lock()
        defer { lock.unlock() }
        return pending
    }

    public func storePendingKey(_ key: Data) throws {
        try Self.check(key)
        lock.lock()
        defer { lock.unlock() }
        guard pending == nil else { throw KeyProviderError.keyAlreadyStored }
        pending = key
    }

    public func promotePendingKey(_ key: Data) throws {
        try Self.check(key)
        lock.lock()
        defer { lock.unlock() }
        self.key = key
        pending = nil
    }

    public func deletePendingKey() throws {
        lock.lock()
        defer { lock.unlock() }
        pending = nil
    }

    private static func check(_ key: Data) throws {
        guard key.count == keyByteCount else {
            throw KeyProviderError.malformedKey(byteCount: key.count)
        }
    }
}
