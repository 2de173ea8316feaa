import Cairn
import CairnKit
import Foundation
import XCTest

/// The API as Swift concurrency sees it: every call awaited, Task
/// cancellation reaching a running read, changes as async sequences, many
/// tasks at once, and what `close()` leaves. Deadlines only catch hangs.
final class AsyncTests: JournalTestCase {
    /// One walk through every `Journal` and `Reminders` call, each awaited
    /// (the compiler holds us to it: every one of them is `async`).
    func testEveryJournalAndRemindersCallIsAwaited() async throws {
        let key = key!
        let created = try await Journal.create(path: path(), key: key, zones: ZoneDatabase.system())
        try await created.close()
        let opened = try await Journal.open(path: path(), key: key)
        try await opened.close()
        let journal = try await Journal.openOrCreate(path: path(), key: key)
        closeAtTearDown(journal)

        let now = rightNow()
        let walk = try await journal.log(entry: moodEntry(6, at: now.shifted(-hour), note: "a walk", tags: [parseTag(text: "activity:walk")]))
        let read = try await journal.entry(id: walk.id)
        XCTAssertEqual(read, walk)
        let updated = try await journal.updateEntry(
            id: walk.id, entry: moodEntry(3, at: walk.at, note: "a walk, then rain", tags: walk.tags))
        XCTAssertEqual(updated.revision, 2)
        let page = try await journal.entries(query: EntryQuery(limit: 10, newestFirst: true))
        XCTAssertEqual(page.entries, [updated])
        let summary = try await journal.summary(query: EntryQuery())
        XCTAssertEqual(summary.map(\.count), [1])
        let tags = try await journal.tagsOnLowDays(query: EntryQuery(), tracker: "mood", threshold: 4)
        XCTAssertEqual(tags.map(\.tag.label), ["walk"])
        let water = try await journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
        let trackers = try await journal.trackers()
        XCTAssertEqual(trackers.last, water)
        let found = try await journal.tracker(idOrName: "water")
        XCTAssertEqual(found, water)
        try await journal.deleteTracker(id: water.id)
        try await journal.deleteEntry(id: walk.id)
        let pending = try await journal.pendingChanges()
        XCTAssertEqual(pending, 5)
        let sound = try await journal.integrityCheck()
        XCTAssertTrue(sound)
        let report = try await journal.rekey(newKey: try generateKey())
        XCTAssertEqual(report.corrupted, [])
        let subscription = try journal.observe(listener: IgnoringListener())
        subscription.cancel()
        subscription.cancel()  // twice is fine

        let r = try journal.reminders()
        let rule = try await r.add(reminder: daily(["09:00"], zone: utcZone, start: "2026-05-01"))
        let moved = try await r.update(id: rule.id, reminder: daily(["09:30"], zone: utcZone, start: "2026-05-01"))
        let got = try await r.get(id: rule.id)
        XCTAssertEqual(got, moved)
        let list = try await r.list()
        XCTAssertEqual(list.reminders, [moved])
        let event = try await r.recordEvent(kind: "therapy", at: utc("2026-05-03T10:00"), zone: utcZone)
        let events = try await r.events()
        XCTAssertEqual(events, [event])
        let quiet = QuietHours(start: wallTime("22:00"), end: wallTime("07:00"))
        try await r.setQuietHours(quiet: quiet)
        let readQuiet = try await r.quietHours()
        XCTAssertEqual(readQuiet, quiet)
        let at = utc("2026-05-04T00:00")
        let plan = try await r.plan(now: at, deviceZone: utcZone, limits: iosLimits(), horizonDays: 2)
        XCTAssertEqual(plan.notifications.map(\.fireAt), [utc("2026-05-04T09:30"), utc("2026-05-05T09:30")])
        let first = plan.notifications[0]
        try await r.report(occurrence: first.occurrence, due: first.due, report: .done(at: first.due.shifted(minute)))
        let occurrences = try await r.occurrences(from: at, to: at.shifted(2 * day), deviceZone: utcZone)
        XCTAssertEqual(occurrences.count, 2)
        let adherence = try await r.adherence(from: at, to: at.shifted(day), now: at.shifted(day), deviceZone: utcZone)
        XCTAssertEqual(adherence.rules.first?.done, 1)

        // The blocking twins, for platform callbacks that must finish before
        // they return: from a thread of their own, never the cooperative pool.
        let blocking = try await onOwnThread {
            try r.reportBlocking(occurrence: first.occurrence, due: first.due, report: .shown(at: first.due))
            return try r.planBlocking(now: at, deviceZone: utcZone, limits: iosLimits(), horizonDays: 2)
        }
        XCTAssertEqual(blocking.notifications, Array(plan.notifications.dropFirst()))

        try await r.delete(id: rule.id)
        let none = try await r.list()
        XCTAssertEqual(none.reminders, [])

        try await journal.close()
        try await journal.close()  // closing twice is fine
    }

    /// Cancelling the tasks awaiting two endless reads (the journal has two
    /// reader threads) interrupts them: each throws `CancellationError`, and
    /// a read queued behind them then runs.
    func testCancellingTheTaskStopsALongRead() async throws {
        #if CAIRN_TESTING
        let journal = try await makeJournal()
        let entry = try await journal.log(entry: moodEntry(5))
        let endless = (0..<2).map { _ in Task { try await journal.testingEndlessRead() } }
        // Give both a reader, then queue a normal read behind them.
        try await Task.sleep(nanoseconds: 200_000_000)
        let queuedDone = Locked(false)
        let queued = Task {
            defer { queuedDone.withValue { $0 = true } }
            return try await journal.entries(query: EntryQuery())
        }
        try await Task.sleep(nanoseconds: 300_000_000)
        XCTAssertFalse(queuedDone.current, "both readers are taken: the read waits")
        for task in endless { task.cancel() }
        for task in endless {
            await assertCancelled("the endless read") {
                try await withDeadline(30, "a cancelled endless read") { try await task.value }
            }
        }
        let page = try await withDeadline(30, "the read queued behind the endless ones") { try await queued.value }
        XCTAssertEqual(page.entries, [entry])
        // Both readers are free again: two reads at once finish too.
        async let a = journal.entries(query: EntryQuery())
        async let b = journal.entry(id: entry.id)
        let (pageAgain, read) = try await (a, b)
        XCTAssertEqual(pageAgain.entries, [entry])
        XCTAssertEqual(read, entry)
        #else
        throw XCTSkip("testingEndlessRead() needs the testing build of cairn-ffi: bash tests/swift.sh")
        #endif
    }

    /// A write, once called, completes even from a cancelled task, and its
    /// caller gets the result: a patient who saves and leaves the screen
    /// keeps the entry. (Reads are what cancellation interrupts.)
    func testAWriteFromACancelledTaskStillCompletesWithItsResult() async throws {
        let journal = try await makeJournal()
        let gate = Locked(false)
        let task = Task {
            while !gate.current { await Task.yield() }
            return try await journal.log(entry: moodEntry(5))
        }
        task.cancel()
        gate.withValue { $0 = true }
        let written = try await task.value
        let page = try await journal.entries(query: EntryQuery())
        XCTAssertEqual(page.entries, [written])
    }

    /// `changes()` yields a commit made from another task, then the next
    /// ones in order, and ends when the journal closes.
    func testChangesStreamSeesCommitsFromAnotherTask() async throws {
        let journal = try await makeJournal()
        let changes = journal.changes()
        let writer = Task.detached {
            let entry = try await journal.log(entry: moodEntry(4, note: "never in a change"))
            try await journal.deleteEntry(id: entry.id)
            let water = try await journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
            return (entry, water)
        }
        let seen = try await withDeadline(30, "the changes of another task") {
            var seen: [JournalChange] = []
            for await change in changes {
                seen.append(change)
                if seen.count == 3 { break }
            }
            return seen
        }
        let (entry, water) = try await writer.value
        XCTAssertEqual(seen, [
            JournalChange(table: .entries, ids: [entry.id.value], deleted: false),
            JournalChange(table: .entries, ids: [entry.id.value], deleted: true),
            JournalChange(table: .trackers, ids: [water.id.value], deleted: false),
        ])
        XCTAssertFalse(seen.map { "\($0)" }.joined().contains("never in a change"), "ids only, never content")

        let untilClosed = journal.changes()
        try await journal.close()
        let after = try await withDeadline(30, "a stream of a journal being closed") { () async -> Int in
            var n = 0
            for await _ in untilClosed { n += 1 }
            return n
        }
        XCTAssertEqual(after, 0, "it ends")
    }

    /// Stopping the iteration cancels the subscription: later commits are
    /// not buffered for nobody, and other streams keep theirs.
    func testAStreamStoppedEarlyLeavesTheOthersRunning() async throws {
        let journal = try await makeJournal()
        let first = journal.changes()
        let second = journal.changes()
        let one = Task { () -> JournalChange? in
            for await change in first { return change }
            return nil
        }
        let entry = try await journal.log(entry: moodEntry(5))
        let got = try await withDeadline(30, "the first change") { await one.value }
        XCTAssertEqual(got?.ids, [entry.id.value])
        let another = try await journal.log(entry: moodEntry(6))
        let both = try await withDeadline(30, "two changes on the second stream") {
            var ids: [String] = []
            for await change in second {
                ids += change.ids
                if ids.count == 2 { break }
            }
            return ids
        }
        XCTAssertEqual(both, [entry.id.value, another.id.value])
    }

    /// `entryPages(query:)` yields the page at once, then the page again
    /// after a commit; it ends when the journal closes.
    func testEntryPagesYieldsThePageThenANewOneAfterALog() async throws {
        let journal = try await makeJournal()
        let first = try await journal.log(entry: moodEntry(3, at: rightNow().shifted(-hour)))
        let pages = journal.entryPages(query: EntryQuery(newestFirst: true))
        let second = Locked<Entry?>(nil)
        let seen = try await withDeadline(30, "two pages") {
            var seen: [[EntryId]] = []
            for try await page in pages {
                seen.append(page.entries.map(\.id))
                if seen.count == 1 {
                    let entry = try await journal.log(entry: moodEntry(7))
                    second.withValue { $0 = entry }
                } else if page.entries.count == 2 {
                    break
                }
            }
            return seen
        }
        let logged = try XCTUnwrap(second.current)
        XCTAssertEqual(seen.first, [first.id])
        XCTAssertEqual(seen.last, [logged.id, first.id])

        // Changes elsewhere in the journal give no new page; closing ends it.
        let rest = try await withDeadline(30, "a page stream until close") { () async throws -> [Int] in
            var pages = journal.entryPages(query: EntryQuery()).makeAsyncIterator()
            let firstPage = try await pages.next()
            _ = try await journal.reminders().add(reminder: daily(["09:00"]))
            try await journal.close()
            var counts = [firstPage?.entries.count ?? -1]
            while let page = try await pages.next() { counts.append(page.entries.count) }
            return counts
        }
        XCTAssertEqual(rest, [2], "the first page only, then the end")
    }

    func testEntryPagesThrowsWhatTheQueryThrows() async throws {
        let journal = try await makeJournal()
        let pages = journal.entryPages(query: EntryQuery(limit: 0))
        await assertThrows(.invalidInput) {
            try await withDeadline(30, "an invalid page stream") {
                for try await _ in pages {}
            }
        }
    }

    /// Eight tasks log, read back and list for 3 s: every entry whose `log`
    /// returned is listed afterwards, once, with the task's tag.
    func testEightTasksWritingFor3SecondsLoseNothing() async throws {
        let journal = try await makeJournal()
        let tasks = 8
        let deadline = Date().addingTimeInterval(3)
        let zones = [paris, tokyo, utcZone]
        let logged = try await withDeadline(120, "eight writing tasks") {
            try await withThrowingTaskGroup(of: (Int, [EntryId]).self) { group in
                for t in 0..<tasks {
                    group.addTask {
                        var mine: [EntryId] = []
                        var n = 0
                        let start = rightNow()
                        while Date() < deadline {
                            let entry = try await journal.log(entry: moodEntry(
                                Double(n % 11), at: start.shifted(-Double(n)), zone: zones[t % 3],
                                note: "task \(t) entry \(n)", tags: [Tag(group: .activity, label: "task \(t)")]))
                            mine.append(entry.id)
                            let read = try await journal.entry(id: entry.id)
                            XCTAssertEqual(read.note, "task \(t) entry \(n)")
                            if n % 5 == 0 {
                                _ = try await journal.entries(query: EntryQuery(tracker: "mood", limit: 20, newestFirst: true))
                                _ = try await journal.summary(query: EntryQuery(from: rightNow().shifted(-hour)))
                                _ = try await journal.pendingChanges()
                            }
                            n += 1
                        }
                        return (t, mine)
                    }
                }
                var all = Array(repeating: [EntryId](), count: tasks)
                for try await (t, ids) in group { all[t] = ids }
                return all
            }
        }
        let page = try await journal.entries(query: EntryQuery())
        let stored = page.entries.map(\.id)
        XCTAssertEqual(Set(stored).count, stored.count, "ids are unique")
        for (t, ids) in logged.enumerated() {
            XCTAssertFalse(ids.isEmpty, "task \(t) logged nothing")
            XCTAssertTrue(Set(ids).isSubset(of: Set(stored)), "task \(t) lost entries")
            let tagged = page.entries.filter { $0.tags.contains(Tag(group: .activity, label: "task \(t)")) }
            XCTAssertEqual(Set(tagged.map(\.id)), Set(ids))
        }
        XCTAssertEqual(stored.count, logged.map(\.count).reduce(0, +))
        let pending = try await journal.pendingChanges()
        XCTAssertEqual(pending, Int64(stored.count))
        let sound = try await journal.integrityCheck()
        XCTAssertTrue(sound)
        print("AsyncTests: \(tasks) tasks logged \(stored.count) entries in 3 s")
    }

    /// `close()` returns once the file is closed: then every call throws
    /// `.closed`, the `Reminders` taken before too, and the streams end.
    func testAfterCloseEveryCallThrowsClosedRemindersToo() async throws {
        let journal = try await makeJournal()
        let r = try journal.reminders()
        let rule = try await r.add(reminder: daily(["09:00"]))
        let entry = try await journal.log(entry: moodEntry(5))
        let inFlight = Task { try await journal.log(entry: moodEntry(6)) }
        try await journal.close()
        // A call made around close() either finished or was refused.
        do {
            _ = try await inFlight.value
        } catch CairnError.closed {
        } catch {
            XCTFail("\(error)")
        }

        await assertThrows(.closed) { try await journal.entries(query: EntryQuery()) }
        await assertThrows(.closed) { try await journal.entry(id: entry.id) }
        await assertThrows(.closed) { try await journal.log(entry: moodEntry(4)) }
        await assertThrows(.closed) { try journal.reminders() }
        await assertThrows(.closed) { try journal.observe(listener: IgnoringListener()) }
        await assertThrows(.closed) { try await r.list() }
        await assertThrows(.closed) { try await r.get(id: rule.id) }
        await assertThrows(.closed) { try await r.plan(now: rightNow(), deviceZone: utcZone, limits: iosLimits(), horizonDays: 1) }
        await assertThrows(.closed) { try await r.add(reminder: daily(["10:00"])) }

        let ended = try await withDeadline(30, "streams of a closed journal") {
            var changes = 0
            for await _ in journal.changes() { changes += 1 }
            var pages = 0
            for try await _ in journal.entryPages() { pages += 1 }
            return [changes, pages]
        }
        XCTAssertEqual(ended, [0, 0])

        // The file is whole: it opens again with everything in it.
        let reopened = try await Journal.open(path: path(), key: key)
        closeAtTearDown(reopened)
        let list = try await reopened.reminders().list()
        XCTAssertEqual(list.reminders, [rule])
        let read = try await reopened.entry(id: entry.id)
        XCTAssertEqual(read, entry)
    }
}

/// Runs `body` on a thread of its own (for the blocking twins), and awaits it.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
