import Cairn
import Foundation
import XCTest

/// What the Swift side can hand the library that it must refuse cleanly.
final class BoundaryTests: JournalTestCase {
    func testUnknownTrackersZonesAndDaysAreInvalidInput() throws {
        let journal = try makeJournal()
        assertThrows(.invalidInput) {
            try journal.log(entry: NewEntry(tracker: "no such tracker", value: .scale(value: 5), atMs: nowMs(), zone: "UTC"))
        }
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, zone: "Mars/Base")) }
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, zone: "")) }
        assertThrows(.invalidInput) { try journal.entries(query: EntryQuery(fromDay: "2026-13-45")) }
        assertThrows(.invalidInput) { try journal.tagsOnLowDays(query: EntryQuery(toDay: "2026-13-45"), tracker: "mood", threshold: 3) }
        XCTAssertEqual(try journal.entries(query: EntryQuery()).entries, [])
    }

    func testValuesMustFitTheirTracker() throws {
        let journal = try makeJournal()
        for value: Value in [
            .scale(value: 11), .scale(value: -1), .scale(value: .nan), .scale(value: .infinity),
            .yesNo(value: true), .text(text: "seven"), .count(value: 3),
        ] {
            assertThrows(.invalidInput, "\(value)") { try journal.log(entry: NewEntry(tracker: "mood", value: value, atMs: nowMs(), zone: "UTC")) }
        }
        assertThrows(.invalidInput) {
            try journal.log(entry: NewEntry(tracker: "sleep", value: .sleep(minutes: 25 * 60, quality: nil), atMs: nowMs(), zone: "UTC"))
        }
        assertThrows(.invalidInput) {
            try journal.log(entry: NewEntry(tracker: "sleep", value: .sleep(minutes: 60, quality: 11), atMs: nowMs(), zone: "UTC"))
        }
    }

    func testTimesMustBeAfter1970AndAtMostADayAhead() throws {
        let journal = try makeJournal()
        XCTAssertNoThrow(try journal.log(entry: moodEntry(5, at: nowMs() + dayMs - 60_000)))
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, at: nowMs() + 2 * dayMs)) }
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, at: -1)) }
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, at: .min)) }
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, at: .max)) }
        assertThrows(.invalidInput) { try journal.entries(query: EntryQuery(fromMs: .max)) }
    }

    func testTooManyTagsAreRefused() throws {
        let journal = try makeJournal()
        let tags = (0..<33).map { Tag(group: .other, label: "tag \($0)") }
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, tags: tags)) }
        let duplicates = Array(repeating: Tag(group: .other, label: "same"), count: 40)
        XCTAssertEqual(try journal.log(entry: moodEntry(5, tags: duplicates)).tags, [Tag(group: .other, label: "same")])
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, tags: [Tag(group: .trigger, label: " ")])) }
    }

    func testHugeStringsAreRefusedWithoutACrash() throws {
        let journal = try makeJournal()
        let twoMB = String(repeating: "a", count: 2 * 1024 * 1024)
        let tenMB = String(repeating: "n", count: 10 * 1024 * 1024)
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, note: twoMB)) }
        assertThrows(.invalidInput) { try journal.addTracker(tracker: NewTracker(name: tenMB, kind: .count)) }
        assertThrows(.invalidInput) {
            try journal.log(entry: NewEntry(tracker: tenMB, value: .scale(value: 5), atMs: nowMs(), zone: "UTC"))
        }
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, zone: tenMB)) }
        assertThrows(.invalidInput) { try journal.tracker(idOrName: tenMB) }
        assertThrows(.invalidInput) { try journal.entries(query: EntryQuery(fromDay: tenMB)) }
        assertThrows(.invalidInput) { try parseTag(text: tenMB) }
        assertThrows(.invalidInput) {
            try journal.log(entry: NewEntry(tracker: "medication", value: .medication(name: tenMB, taken: true), atMs: nowMs(), zone: "UTC"))
        }
        // The largest note accepted (64 KiB) round-trips.
        let largest = String(repeating: "é", count: 32 * 1024)
        let entry = try journal.log(entry: moodEntry(5, note: largest))
        XCTAssertEqual(try journal.entry(id: entry.id).note, largest)
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, note: largest + "x")) }
        XCTAssertEqual(try journal.entries(query: EntryQuery()).entries.count, 1)
        XCTAssertTrue(try journal.integrityCheck())
    }

    /// Ids must be 32 lowercase hex characters (what the library makes):
    /// anything else is `InvalidInput`, whose message never repeats it.
    func testMalformedIdsOfAnySizeAreInvalidInput() throws {
        let journal = try makeJournal()
        let entry = try journal.log(entry: moodEntry(5))
        let hugeId = String(repeating: "f", count: 10 * 1024 * 1024)
        let malformed = [
            "", "my diary", "not an id", hugeId,
            String(repeating: "a", count: 31), String(repeating: "a", count: 33),
            entry.id.uppercased(), entry.id + "\u{0}", " " + entry.id.dropFirst(),
            String(repeating: "g", count: 32), String(repeating: "é", count: 16),
        ]
        for id in malformed {
            let label = "id \(id.prefix(40).debugDescription) (\(id.utf8.count) bytes)"
            var errors: [CairnError?] = []
            errors.append(assertThrows(.invalidInput, label) { try journal.entry(id: id) })
            errors.append(assertThrows(.invalidInput, label) { try journal.deleteEntry(id: id) })
            errors.append(assertThrows(.invalidInput, label) { try journal.updateEntry(id: id, entry: moodEntry(6)) })
            errors.append(assertThrows(.invalidInput, label) { try journal.deleteTracker(id: id) })
            for case let .InvalidInput(message)? in errors where !id.isEmpty {
                XCTAssertFalse(message.contains(id), "the message repeats the id: \(label)")
                XCTAssertLessThan(message.utf8.count, 200, label)
            }
        }
        // Nothing was changed by the refused calls.
        XCTAssertEqual(try journal.entry(id: entry.id), entry)
        let error = assertThrows(.invalidInput) { try journal.entry(id: "my diary") }
        for text in [String(describing: error as Any), String(reflecting: error as Any), error?.localizedDescription ?? ""] {
            XCTAssertFalse(text.contains("my diary"), text)
        }
    }

    /// A well-formed id that names nothing is `NotFound`.
    func testWellFormedUnknownIdsAreNotFound() throws {
        let journal = try makeJournal()
        for id in [String(repeating: "0", count: 32), String(repeating: "f", count: 32), "0123456789abcdef0123456789abcdef"] {
            assertThrows(.notFound, id) { try journal.entry(id: id) }
            assertThrows(.notFound, id) { try journal.deleteEntry(id: id) }
            assertThrows(.notFound, id) { try journal.updateEntry(id: id, entry: moodEntry(5)) }
            assertThrows(.notFound, id) { try journal.deleteTracker(id: id) }
        }
    }

    func testNulCharactersAreRefused() throws {
        let journal = try makeJournal()
        assertThrows(.invalidInput) { try journal.log(entry: moodEntry(5, note: "before\u{0}after")) }
        assertThrows(.invalidInput) { try parseTag(text: "a\u{0}b") }
    }

    func testErrorDescriptionsNeverRepeatThePatientsText() throws {
        let journal = try makeJournal()
        let secret = "I told no one about the panic attack at Maria's"
        var errors: [Error] = []
        func collect(_ body: () throws -> Any) {
            do { _ = try body() } catch { errors.append(error) }
        }
        collect { try journal.log(entry: moodEntry(42, note: secret)) }
        collect { try journal.log(entry: moodEntry(5, at: nowMs() + 3 * dayMs, note: secret)) }
        collect { try journal.log(entry: moodEntry(5, zone: "Mars/Base", note: secret)) }
        collect { try journal.log(entry: moodEntry(5, note: secret + String(repeating: "!", count: 70_000))) }
        collect { try journal.log(entry: moodEntry(5, note: secret + "\u{0}")) }
        collect { try journal.log(entry: moodEntry(5, tags: [Tag(group: .other, label: secret + secret)])) }
        collect { try journal.log(entry: NewEntry(tracker: secret, value: .scale(value: 5), atMs: nowMs(), zone: "UTC")) }
        collect { try journal.log(entry: NewEntry(tracker: "mood", value: .text(text: secret), atMs: nowMs(), zone: "UTC")) }
        collect { try journal.addTracker(tracker: NewTracker(name: secret + secret, kind: .count)) }
        collect { try journal.tracker(idOrName: secret) }
        collect { try journal.entries(query: EntryQuery(fromDay: secret)) }
        collect { try journal.entries(query: EntryQuery(after: secret)) }
        collect { try parseTag(text: secret + secret) }
        collect { try parseValue(kind: .count, text: secret) }
        collect { try journal.entry(id: secret) }
        collect { try journal.deleteEntry(id: secret) }
        collect { try journal.updateEntry(id: secret, entry: moodEntry(5)) }
        collect { try journal.deleteTracker(id: secret) }
        let entry = try journal.log(entry: moodEntry(5))
        collect { try journal.updateEntry(id: entry.id, entry: moodEntry(11, note: secret)) }
        XCTAssertEqual(errors.count, 19, "every call above must fail")

        for error in errors {
            XCTAssertTrue(error is CairnError, "\(type(of: error))")
            for text in [String(describing: error), String(reflecting: error), error.localizedDescription] {
                XCTAssertFalse(text.contains("panic attack"), text)
                XCTAssertFalse(text.contains("Maria"), text)
            }
        }
    }
}
