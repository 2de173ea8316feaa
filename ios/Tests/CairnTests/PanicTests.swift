import Cairn
import Foundation
import XCTest

/// A Rust panic must reach Swift as a thrown error and leave the process,
/// and the library, running. Every export returns a `Result` in Rust, so
/// every Swift function that calls Rust is `throws`; uniffi turns a panic
/// into its own internal error (the fileprivate `UniffiInternalError.rustPanic`
/// in Cairn.swift, whose description is the panic message), not a `CairnError`.
final class PanicTests: JournalTestCase {
    func testRustPanicArrivesAsAThrownErrorAndTheProcessKeepsRunning() throws {
        #if CAIRN_TESTING
        // A journal opened before the panic keeps working after it.
        let journal = try makeJournal()
        let before = try journal.log(entry: moodEntry(4))

        assertIsRustPanic { try testingPanic() }

        // The process, and the library, keep working.
        XCTAssertFalse(try coreVersion().isEmpty)
        XCTAssertEqual(try generateKey().count, 32)
        XCTAssertEqual(try journal.entry(id: before.id), before)
        let after = try journal.log(entry: moodEntry(6))
        XCTAssertEqual(try journal.entries(query: EntryQuery()).entries.map(\.id), [before.id, after.id])
        XCTAssertTrue(try journal.integrityCheck())

        // And a second panic is caught the same way.
        assertIsRustPanic { try testingPanic() }
        XCTAssertFalse(try coreVersion().isEmpty)
        #else
        throw XCTSkip("testingPanic() needs the testing build of cairn-ffi: bash tests/swift.sh")
        #endif
    }

    #if CAIRN_TESTING
    /// Panics on several threads at once: each call throws, none ends the process.
    func testPanicsOnManyThreadsAreEachThrown() throws {
        let outcomes = Locked([String]())
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let outcome: String
            do {
                try testingPanic()
                outcome = "returned"
            } catch is CairnError {
                outcome = "CairnError"
            } catch {
                outcome = String(describing: error).contains("rustPanic") ? "panic" : "\(error)"
            }
            outcomes.withValue { $0.append(outcome) }
        }
        XCTAssertEqual(outcomes.current, Array(repeating: "panic", count: 8))
        XCTAssertFalse(try coreVersion().isEmpty)
    }

    /// Asserts that `body` throws uniffi's panic error with the panic's message.
    private func assertIsRustPanic(file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("testingPanic() returned", file: file, line: line)
        } catch let error as CairnError {
            XCTFail("a panic must not look like a CairnError: \(error)", file: file, line: line)
        } catch {
            XCTAssertTrue(String(describing: error).contains("rustPanic"), "\(error)", file: file, line: line)
            XCTAssertTrue(
                error.localizedDescription.contains("deliberate panic for tests"), error.localizedDescription,
                file: file, line: line)
        }
    }
    #endif
}
