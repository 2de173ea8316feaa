import Cairn
import Foundation
import XCTest

/// A Rust panic must reach Swift as a thrown `CairnError.internal` and leave
/// the process, the library and the journal running. `testingPanic()`
/// panics inside a job on the journal's own threads.
final class PanicTests: JournalTestCase {
    func testRustPanicArrivesAsInternalAndTheJournalKeepsWorking() async throws {
        #if CAIRN_TESTING
        // A journal opened before the panic keeps working after it.
        let journal = try await makeJournal()
        let before = try await journal.log(entry: moodEntry(4))

        await assertIsInternal { try await journal.testingPanic() }

        // The process, the library and the journal keep working.
        XCTAssertFalse(coreVersion().isEmpty)
        XCTAssertEqual(try generateKey().count, 32)
        let read = try await journal.entry(id: before.id)
        XCTAssertEqual(read, before)
        let after = try await journal.log(entry: moodEntry(6))
        let page = try await journal.entries(query: EntryQuery())
        XCTAssertEqual(page.entries.map(\.id), [before.id, after.id])
        let sound = try await journal.integrityCheck()
        XCTAssertTrue(sound)

        // And a second panic is caught the same way.
        await assertIsInternal { try await journal.testingPanic() }
        XCTAssertFalse(coreVersion().isEmpty)
        #else
        throw XCTSkip("testingPanic() needs the testing build of cairn-ffi: bash tests/swift.sh")
        #endif
    }

    #if CAIRN_TESTING
    /// Panics in eight tasks at once: each call throws `.internal`, none
    /// ends the process, and the journal's readers all still work.
    func testPanicsInManyTasksAreEachThrown() async throws {
        let journal = try await makeJournal()
        let outcomes = await withTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do {
                        try await journal.testingPanic()
                        return "returned"
                    } catch let error as CairnError {
                        return error == .internal ? "internal" : "\(error)"
                    } catch {
                        return "\(type(of: error)): \(error)"
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(outcomes, Array(repeating: "internal", count: 8))
        XCTAssertFalse(coreVersion().isEmpty)
        for _ in 0..<4 {
            let page = try await journal.entries(query: EntryQuery())
            XCTAssertEqual(page.entries, [])
        }
    }

    /// Asserts that `body` throws `CairnError.internal`, whose text is the
    /// plain sentence (not the panic's message).
    private func assertIsInternal(file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void) async {
        let error = await assertThrows(.internal, file: file, line: line, body)
        if let error {
            XCTAssertEqual(error.localizedDescription, "internal error in Cairn", file: file, line: line)
            XCTAssertFalse(error.localizedDescription.contains("deliberate panic"), file: file, line: line)
        }
    }
    #endif
}
