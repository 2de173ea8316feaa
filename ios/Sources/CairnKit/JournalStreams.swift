import Cairn
import Foundation

// The journal's changes as Swift concurrency sequences, built on
// `Journal.observe(listener:)`.

extension Journal {
    /// Every change committed through this journal from now on, in commit
    /// order: what was touched (`table`, `ids`, `deleted`), never its content.
    ///
    /// ```swift
    /// for await change in journal.changes() where change.table == .entries {
    ///     await reload()
    /// }
    /// ```
    ///
    /// The stream ends when the journal closes (at once if it is already
    /// closed). Stopping the iteration (its task cancelled, or a `break`)
    /// cancels the subscription. Changes made by another process sharing
    /// the file (an app extension) are not seen here. With the default
    /// policy every change is kept until it is read; pass
    /// `.bufferingNewest(1)` when only "something changed" matters.
    public func changes(
        bufferingPolicy: AsyncStream<JournalChange>.Continuation.BufferingPolicy = .unbounded
    ) -> AsyncStream<JournalChange> {
        changes(bufferingPolicy: bufferingPolicy, where: { _ in true })
    }

    /// Pages of entries for `query`: the current page at once, then the page
    /// again after each committed change that can alter it (an entry or a
    /// tracker added, changed or deleted; a re-key). For a list on screen:
    ///
    /// ```swift
    /// for try await page in journal.entryPages(query: EntryQuery(limit: 50, newestFirst: true)) {
    ///     entries = page.entries
    /// }
    /// ```
    ///
    /// Only the newest page waits for a slow reader; changes that come while
    /// a page is read give one more page, not one each. Ends when the
    /// journal closes; throws what `entries(query:)` throws otherwise (an
    /// invalid query: `CairnError.invalidInput`). Stopping the iteration
    /// cancels the subscription and a read under way.
    public func entryPages(query: EntryQuery = EntryQuery()) -> AsyncThrowingStream<EntryPage, any Error> {
        AsyncThrowingStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            // Subscribed before the first read: no commit falls in between.
            let changes = changes(bufferingPolicy: .bufferingNewest(1), where: Self.canChangeEntryPages)
            let reader = Task {
                do {
                    continuation.yield(try await entries(query: query))
                    for await _ in changes {
                        continuation.yield(try await entries(query: query))
                    }
                    continuation.finish()
                } catch CairnError.closed {
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in reader.cancel() }
        }
    }

    private static func canChangeEntryPages(_ change: JournalChange) -> Bool {
        switch change.table {
        case .entries, .trackers, .all: return true
        case .reminders, .events, .reminderReports, .settings, .flags: return false
        }
    }

    private func changes(
        bufferingPolicy: AsyncStream<JournalChange>.Continuation.BufferingPolicy,
        where include: @escaping @Sendable (JournalChange) -> Bool
    ) -> AsyncStream<JournalChange> {
        AsyncStream(bufferingPolicy: bufferingPolicy) { continuation in
            let listener = ChangeForwarder(continuation, include)
            do {
                let subscription = try observe(listener: listener)
                continuation.onTermination = { [weak listener] _ in
                    // Ended by the reader (cancelled, `break`): cancel the
                    // subscription. Ended because the journal let the
                    // listener go (closed): it is gone already, and calling
                    // back into the journal from its release would wait on
                    // the journal's own lock.
                    if listener != nil { subscription.cancel() }
                }
            } catch {
                // Closed already: nothing will ever change.
                continuation.finish()
            }
        }
    }
}

/// Hands each change to a stream. The journal keeps it while it is
/// registered and lets it go when the subscription is cancelled or the
/// journal closes: then the stream ends.
private final class ChangeForwarder: JournalListener {
    private let continuation: AsyncStream<JournalChange>.Continuation
    private let include: @Sendable (JournalChange) -> Bool

    init(
        _ continuation: AsyncStream<JournalChange>.Continuation,
        _ include: @escaping @Sendable (JournalChange) -> Bool
    ) {
        self.continuation = continuation
        self.include = include
    }

    func onChange(change: JournalChange) {
        if include(change) {
            continuation.yield(change)
        }
    }

    func onClosed() {
        // Every change committed before the close was delivered.
        continuation.finish()
    }

    deinit {
        continuation.finish()
    }
}
