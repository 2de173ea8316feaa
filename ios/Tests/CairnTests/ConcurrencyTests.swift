import Cairn
import Foundation
import XCTest

final class ConcurrencyTests: JournalTestCase {
    /// 8 threads log and read against one Journal for 3 s; nothing fails and
    /// every entry each thread logged is there afterwards.
    func testEightThreadsWriteAndReadAtOnce() throws {
        let journal = try makeJournal()
        let threads = 8
        let deadline = Date().addingTimeInterval(3)
        let results = Locked(Array(repeating: [String](), count: threads))
        let failures = Locked([String]())
        let group = DispatchGroup()

        for t in 0..<threads {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                var mine: [String] = []
                do {
                    var n = 0
                    while Date() < deadline {
                        let entry = try journal.log(entry: moodEntry(
                            Double(n % 11), at: nowMs() - Int64(n) * 1000,
                            zone: ["Europe/Paris", "Asia/Tokyo", "UTC"][t % 3],
                            note: "thread \(t) entry \(n)",
                            tags: [Tag(group: .activity, label: "thread \(t)")]))
                        mine.append(entry.id)
                        let read = try journal.entry(id: entry.id)
                        if read.note != "thread \(t) entry \(n)" {
                            throw NSError(domain: "read back a different entry", code: t)
                        }
                        if n % 5 == 0 {
                            _ = try journal.entries(query: EntryQuery(tracker: "mood", limit: 20, newestFirst: true))
                            _ = try journal.summary(query: EntryQuery(fromMs: nowMs() - hourMs))
                            _ = try journal.pendingChanges()
                        }
                        n += 1
                    }
                } catch {
                    failures.withValue { $0.append("thread \(t): \(error)") }
                }
                results.withValue { $0[t] = mine }
            }
            thread.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success, "threads did not finish")

        XCTAssertEqual(failures.current, [])
        let logged = results.current
        let all = try journal.entries(query: EntryQuery())
        let stored = Set(all.entries.map(\.id))
        for (t, ids) in logged.enumerated() {
            XCTAssertFalse(ids.isEmpty, "thread \(t) logged nothing")
            XCTAssertTrue(Set(ids).isSubset(of: stored), "thread \(t) lost entries")
            let tagged = all.entries.filter { $0.tags.contains(Tag(group: .activity, label: "thread \(t)")) }
            XCTAssertEqual(Set(tagged.map(\.id)), Set(ids))
        }
        XCTAssertEqual(all.entries.count, logged.map(\.count).reduce(0, +))
        XCTAssertEqual(try journal.pendingChanges(), UInt64(all.entries.count))
        XCTAssertTrue(try journal.integrityCheck())
        print("ConcurrencyTests: \(threads) threads logged \(all.entries.count) entries in 3 s")
    }

    /// Closing while other threads are mid-call: they finish or see Closed.
    func testCloseWhileOtherThreadsAreCalling() throws {
        let journal = try makeJournal()
        let group = DispatchGroup()
        let unexpected = Locked([String]())
        for t in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                for n in 0..<200 {
                    do {
                        _ = try journal.log(entry: moodEntry(5, note: "t\(t) n\(n)"))
                    } catch CairnError.Closed {
                        return
                    } catch {
                        unexpected.withValue { $0.append("\(error)") }
                        return
                    }
                }
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.2)
        try journal.close()
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(unexpected.current, [])
        assertThrows(.closed) { try journal.pendingChanges() }

        let reopened = try Journal.open(path: path(), key: key)
        defer { XCTAssertNoThrow(try reopened.close()) }
        XCTAssertTrue(try reopened.integrityCheck())
    }
}
