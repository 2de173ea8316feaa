import Cairn
import Foundation
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on `<journal>.keylock`, held while a re-key runs or an
/// open settles a pending key, so that neither sees the other half done.
/// It is a `flock(2)` lock: it covers tasks and threads of this process and
/// other processes (an app extension sharing the journal), and the system
/// drops it if the process dies. The empty lock file is left in place.
///
/// Waiting for the lock blocks a thread of its own (a Dispatch worker), never
/// one of Swift's cooperative threads; the lock is held until ``release()``
/// (or until it is deinitialised).
final class RekeyLock: @unchecked Sendable {
    static func path(forJournalAt path: String) -> String {
        path + ".keylock"
    }

    private let mutex = NSLock()
    private var fd: Int32?

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit { release() }

    /// Waits for the lock of the journal at `journal`. Not cancellable: a
    /// re-key holding it is never interrupted half way.
    static func acquire(forJournalAt journal: String) async throws -> RekeyLock {
        let lockPath = path(forJournalAt: journal)
        let fd: Int32 = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                guard fd >= 0 else {
                    return continuation.resume(throwing: RekeyLockError(path: lockPath, errno: errno))
                }
                while flock(fd, LOCK_EX) != 0 {
                    let error = errno
                    guard error == EINTR else {
                        close(fd)
                        return continuation.resume(throwing: RekeyLockError(path: lockPath, errno: error))
                    }
                }
                continuation.resume(returning: fd)
            }
        }
        return RekeyLock(fd: fd)
    }

    /// Runs `body` holding the lock of the journal at `journal`.
    static func holding<T>(forJournalAt journal: String, _ body: () async throws -> T) async throws -> T {
        let lock = try await acquire(forJournalAt: journal)
        defer { lock.release() }
        return try await body()
    }

    /// Releases the lock (closing the file releases it). Releasing twice is fine.
    func release() {
        mutex.lock()
        defer { mutex.unlock() }
        if let fd {
            close(fd)
            self.fd = nil
        }
    }
}

/// The lock file next to a journal could not be opened or locked.
public struct RekeyLockError: Error, Equatable, Sendable {
    /// The lock file, `<journal>.keylock`.
    public let path: String
    /// The `errno` of `open(2)` or `flock(2)`.
    public let errno: Int32
}

extension Journal {
    /// The SQLite files that belong with the journal at `path`, after it.
    static func sideFileSuffixes() -> [String] { ["-wal", "-shm", "-journal"] }

    /// Moves the journal at `path` aside, without deleting anything, so
    /// that ``openOrCreate(path:keys:zones:)`` starts a new journal there.
    /// For a journal no key on this device opens
    /// (``KeyProviderError/keyMissingForExistingJournal``), once the patient
    /// has agreed to start a new one.
    ///
    /// The journal becomes `<path>.unreadable-<UTC date and time>` (with a
    /// number added if that exists), and its SQLite side files (`-wal`,
    /// `-shm`) move with it, before it, so a new journal never finds the old
    /// one's log. Nothing is ever overwritten. Returns the new path. The
    /// journal must not be open.
    @discardableResult
    public static func setAside(path: String) throws -> String {
        let files = FileManager.default
        let stamp = Self.stamp(Date())
        var target = "\(path).unreadable-\(stamp)"
        var n = 1
        while (sideFileSuffixes() + [""]).contains(where: { files.fileExists(atPath: target + $0) }) {
            n += 1
            target = "\(path).unreadable-\(stamp)-\(n)"
        }
        for suffix in sideFileSuffixes() where files.fileExists(atPath: path + suffix) {
            try files.moveItem(atPath: path + suffix, toPath: target + suffix)
        }
        try files.moveItem(atPath: path, toPath: target)
        return target
    }

    private static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}
