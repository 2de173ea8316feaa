import Cairn
import Foundation
import XCTest

final class ConcurrencyTests: JournalTestCase {
    /// Closing while other tasks are mid-call: each call finishes or throws
    /// `.closed`; nothing else goes wrong, and the file is sound.
    func testCloseWhileOtherTasksAreCalling() async throws {
        let journal = try await makeJournal()
        let unexpected = Locked([String]())
        let started = Locked(0)
        let writers = (0..<4).map { t in
            Task {
                for n in 0..<200 {
                    do {
                        _ = try await journal.log(entry: moodEntry(5, note: "t\(t) n\(n)"))
                        started.withValue { $0 += 1 }
                    } catch CairnError.closed {
                        return
                    } catch {
                        unexpected.withValue { $0.append("\(error)") }
                        return
                    }
                }
            }
        }
        // Close once some calls went through (a deadline, not a timing).
        let deadline = Date().addingTimeInterval(30)
        while started.current < 8 && Date() < deadline { try await Task.sleep(nanoseconds: 1_000_000) }
        try await journal.close()
        for w in writers { await w.value }
        XCTAssertEqual(unexpected.current, [])
        await assertThrows(.closed) { try await journal.pendingChanges() }

        let reopened = try await Journal.open(path: path(), key: key)
        closeAtTearDown(reopened)
        let sound = try await reopened.integrityCheck()
        XCTAssertTrue(sound)
    }
}
