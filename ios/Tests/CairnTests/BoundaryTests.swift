import Cairn
import Foundation
import XCTest

/// What the Swift side can hand the library that it must refuse cleanly.
/// (Zones and days are typed now: a `TimeZone` always names a zone
/// Foundation knows, so a zone the journal lacks is one made from an offset;
/// a day is a `DateComponents` that may be missing a field or off the
/// calendar.)
final class BoundaryTests: JournalTestCase {
    func testUnknownTrackersZonesAndDaysAreRefused() async throws {
        let journal = try await makeJournal()
        await assertThrows(.unknownTracker) {
            try await journal.log(entry: NewEntry(tracker: "no such tracker", value: .scale(value: 5), at: rightNow(), zone: utcZone))
        }
        await assertUnknownZone("zone") { try await journal.log(entry: moodEntry(5, zone: fixedOffsetZone)) }
        await assertInvalid("fromDay") {
            try await journal.entries(query: EntryQuery(fromDay: DateComponents(year: 2026, month: 13, day: 45)))
        }
        await assertInvalid("toDay") {
            try await journal.tagsOnLowDays(
                query: EntryQuery(toDay: DateComponents(year: 2026, month: 13, day: 45)), tracker: "mood", threshold: 3)
        }
        let none = try await journal.entries(query: EntryQuery())
        XCTAssertEqual(none.entries, [])
    }

    func testValuesMustFitTheirTracker() async throws {
        let journal = try await makeJournal()
        for value: Value in [
            .scale(value: 11), .scale(value: -1), .scale(value: .nan), .scale(value: .infinity),
            .yesNo(value: true), .text(text: "seven"), .count(value: 3),
        ] {
            await assertThrows(.invalidInput, "\(value)") {
                try await journal.log(entry: NewEntry(tracker: "mood", value: value, at: rightNow(), zone: utcZone))
            }
        }
        await assertThrows(.invalidInput) {
            try await journal.log(entry: NewEntry(tracker: "sleep", value: .sleep(minutes: 25 * 60, quality: nil), at: rightNow(), zone: utcZone))
        }
        await assertThrows(.invalidInput) {
            try await journal.log(entry: NewEntry(tracker: "sleep", value: .sleep(minutes: 60, quality: 11), at: rightNow(), zone: utcZone))
        }
    }

    func testTimesMustBeAfter1970AndAtMostADayAhead() async throws {
        let journal = try await makeJournal()
        _ = try await journal.log(entry: moodEntry(5, at: rightNow().shifted(day - minute)))
        await assertInvalid("at") { try await journal.log(entry: moodEntry(5, at: rightNow().shifted(2 * day))) }
        await assertInvalid("at") { try await journal.log(entry: moodEntry(5, at: instant(ms: -1))) }
        await assertInvalid("at") { try await journal.log(entry: moodEntry(5, at: .distantPast)) }
        await assertInvalid("at") { try await journal.log(entry: moodEntry(5, at: .distantFuture)) }
        // Beyond any calendar the core knows (year 318857): refused, not a crash.
        await assertInvalid("from") { try await journal.entries(query: EntryQuery(from: Date(timeIntervalSince1970: 1e13))) }
    }

    func testTooManyTagsAreRefused() async throws {
        let journal = try await makeJournal()
        let tags = (0..<33).map { Tag(group: .other, label: "tag \($0)") }
        await assertThrows(.invalidInput) { try await journal.log(entry: moodEntry(5, tags: tags)) }
        let duplicates = Array(repeating: Tag(group: .other, label: "same"), count: 40)
        let entry = try await journal.log(entry: moodEntry(5, tags: duplicates))
        XCTAssertEqual(entry.tags, [Tag(group: .other, label: "same")])
        await assertThrows(.invalidInput) { try await journal.log(entry: moodEntry(5, tags: [Tag(group: .trigger, label: " ")])) }
    }

    func testHugeStringsAreRefusedWithoutACrash() async throws {
        let journal = try await makeJournal()
        let twoMB = String(repeating: "a", count: 2 * 1024 * 1024)
        let tenMB = String(repeating: "n", count: 10 * 1024 * 1024)
        await assertInvalid("note") { try await journal.log(entry: moodEntry(5, note: twoMB)) }
        await assertThrows(.invalidInput) { try await journal.addTracker(tracker: NewTracker(name: tenMB, kind: .count)) }
        // A name no tracker has, however long.
        await assertThrows(.unknownTracker) {
            try await journal.log(entry: NewEntry(tracker: tenMB, value: .scale(value: 5), at: rightNow(), zone: utcZone))
        }
        await assertThrows(.unknownTracker) { try await journal.tracker(idOrName: tenMB) }
        await assertThrows(.unknownTracker) { try await journal.entries(query: EntryQuery(tracker: tenMB)) }
        await assertThrows(.invalidInput) { try parseTag(text: tenMB) }
        await assertThrows(.invalidInput) {
            try await journal.log(entry: NewEntry(
                tracker: "medication", value: .medication(name: tenMB, taken: true), at: rightNow(), zone: utcZone))
        }
        // The largest note accepted (64 KiB) round-trips.
        let largest = String(repeating: "é", count: 32 * 1024)
        let entry = try await journal.log(entry: moodEntry(5, note: largest))
        let read = try await journal.entry(id: entry.id)
        XCTAssertEqual(read.note, largest)
        await assertInvalid("note") { try await journal.log(entry: moodEntry(5, note: largest + "x")) }
        let all = try await journal.entries(query: EntryQuery())
        XCTAssertEqual(all.entries.count, 1)
        let sound = try await journal.integrityCheck()
        XCTAssertTrue(sound)
    }

    /// Ids must be 32 lowercase hex characters (what the library makes):
    /// anything else is `invalidInput`, whose message never repeats it.
    func testMalformedIdsOfAnySizeAreInvalidInput() async throws {
        let journal = try await makeJournal()
        let entry = try await journal.log(entry: moodEntry(5))
        let hugeId = String(repeating: "f", count: 10 * 1024 * 1024)
        let id = entry.id.value
        let malformed = [
            "", "my diary", "not an id", hugeId,
            String(repeating: "a", count: 31), String(repeating: "a", count: 33),
            id.uppercased(), id + "\u{0}", " " + id.dropFirst(),
            String(repeating: "g", count: 32), String(repeating: "é", count: 16),
        ]
        for text in malformed {
            let label = "id \(text.prefix(40).debugDescription) (\(text.utf8.count) bytes)"
            let bad = EntryId(text)
            var errors: [CairnError?] = []
            errors.append(await assertThrows(.invalidInput, label) { try await journal.entry(id: bad) })
            errors.append(await assertThrows(.invalidInput, label) { try await journal.deleteEntry(id: bad) })
            errors.append(await assertThrows(.invalidInput, label) { try await journal.updateEntry(id: bad, entry: moodEntry(6)) })
            errors.append(await assertThrows(.invalidInput, label) { try await journal.deleteTracker(id: TrackerId(text)) })
            for case let error? in errors where !text.isEmpty {
                let sentence = error.localizedDescription
                XCTAssertFalse(sentence.contains(text), "the message repeats the id: \(label)")
                XCTAssertLessThan(sentence.utf8.count, 200, label)
            }
        }
        // Nothing was changed by the refused calls.
        let read = try await journal.entry(id: entry.id)
        XCTAssertEqual(read, entry)
        let error = await assertThrows(.invalidInput) { try await journal.entry(id: EntryId("my diary")) }
        for text in [String(describing: error as Any), String(reflecting: error as Any), error?.localizedDescription ?? ""] {
            XCTAssertFalse(text.contains("my diary"), text)
        }
    }

    /// A well-formed id that names nothing is `notFound`.
    func testWellFormedUnknownIdsAreNotFound() async throws {
        let journal = try await makeJournal()
        for text in [String(repeating: "0", count: 32), String(repeating: "f", count: 32), "0123456789abcdef0123456789abcdef"] {
            let id = EntryId(text)
            await assertThrows(.notFound, text) { try await journal.entry(id: id) }
            await assertThrows(.notFound, text) { try await journal.deleteEntry(id: id) }
            await assertThrows(.notFound, text) { try await journal.updateEntry(id: id, entry: moodEntry(5)) }
            await assertThrows(.notFound, text) { try await journal.deleteTracker(id: TrackerId(text)) }
        }
    }

    func testNulCharactersAreRefused() async throws {
        let journal = try await makeJournal()
        await assertInvalid("note") { try await journal.log(entry: moodEntry(5, note: "before\u{0}after")) }
        await assertThrows(.invalidInput) { try parseTag(text: "a\u{0}b") }
    }

    func testErrorDescriptionsNeverRepeatThePatientsText() async throws {
        let journal = try await makeJournal()
        let secret = "I told no one about the panic attack at Maria's"
        var errors: [any Error] = []
        func collect(_ body: () async throws -> Any) async {
            do { _ = try await body() } catch { errors.append(error) }
        }
        await collect { try await journal.log(entry: moodEntry(42, note: secret)) }
        await collect { try await journal.log(entry: moodEntry(5, at: rightNow().shifted(3 * day), note: secret)) }
        await collect { try await journal.log(entry: moodEntry(5, zone: fixedOffsetZone, note: secret)) }
        await collect { try await journal.log(entry: moodEntry(5, note: secret + String(repeating: "!", count: 70_000))) }
        await collect { try await journal.log(entry: moodEntry(5, note: secret + "\u{0}")) }
        await collect { try await journal.log(entry: moodEntry(5, tags: [Tag(group: .other, label: secret + secret)])) }
        await collect { try await journal.log(entry: NewEntry(tracker: secret, value: .scale(value: 5), at: rightNow(), zone: utcZone)) }
        await collect { try await journal.log(entry: NewEntry(tracker: "mood", value: .text(text: secret), at: rightNow(), zone: utcZone)) }
        await collect { try await journal.addTracker(tracker: NewTracker(name: secret + secret, kind: .count)) }
        await collect { try await journal.tracker(idOrName: secret) }
        await collect { try await journal.entries(query: EntryQuery(tracker: secret)) }
        await collect { try await journal.entries(query: EntryQuery(after: secret)) }
        await collect { try parseTag(text: secret + secret) }
        await collect { try parseValue(kind: .count, text: secret) }
        await collect { try await journal.entry(id: EntryId(secret)) }
        await collect { try await journal.deleteEntry(id: EntryId(secret)) }
        await collect { try await journal.updateEntry(id: EntryId(secret), entry: moodEntry(5)) }
        await collect { try await journal.deleteTracker(id: TrackerId(secret)) }
        let entry = try await journal.log(entry: moodEntry(5))
        await collect { try await journal.updateEntry(id: entry.id, entry: moodEntry(11, note: secret)) }
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
