import Cairn
import Foundation
import XCTest

final class EntryTests: JournalTestCase {
    func testLogReturnsTheEntryWithItsLocalTime() throws {
        let journal = try makeJournal()
        let at = nowMs() - 2 * hourMs
        let tags = [try parseTag(text: "trigger:work"), try parseTag(text: "activity:walk")]
        let entry = try journal.log(entry: moodEntry(7, at: at, zone: "Asia/Tokyo", note: "a calm evening", tags: tags))

        XCTAssertEqual(entry.id.count, 32)
        XCTAssertEqual(entry.tracker, "mood")
        XCTAssertEqual(entry.value, .scale(value: 7))
        XCTAssertEqual(entry.note, "a calm evening")
        XCTAssertEqual(Set(entry.tags), Set(tags))
        XCTAssertEqual(entry.atMs, at)
        XCTAssertEqual(entry.zone, "Asia/Tokyo")
        XCTAssertEqual(entry.utcOffsetSeconds, 9 * 3600)
        XCTAssertEqual(entry.localDate, localDay(at, "Asia/Tokyo"))
        XCTAssertEqual(entry.revision, 1)
        XCTAssertEqual(entry.createdAtMs, entry.updatedAtMs)
        XCTAssertLessThanOrEqual(abs(entry.createdAtMs - nowMs()), 60_000)
        XCTAssertEqual(try journal.entry(id: entry.id), entry)
    }

    func testLogAcceptsEveryKindOfValue() throws {
        let journal = try makeJournal()
        let at = nowMs()
        let values: [(String, Value)] = [
            ("anxiety", .scale(value: 3)),
            ("appetite", .scale(value: -1)),
            ("sleep", .sleep(minutes: 450, quality: 6)),
            ("medication", .medication(name: "sertraline 50mg", taken: true)),
        ]
        for (tracker, value) in values {
            let entry = try journal.log(entry: NewEntry(tracker: tracker, value: value, atMs: at, zone: "UTC"))
            XCTAssertEqual(try journal.entry(id: entry.id).value, value, tracker)
        }
        let custom: [(TrackerKind, Value)] = [
            (.yesNo, .yesNo(value: true)),
            (.duration(maxMinutes: 600), .duration(minutes: 45)),
            (.count, .count(value: 8)),
            (.text, .text(text: "three good things")),
        ]
        for (i, (kind, value)) in custom.enumerated() {
            let tracker = try journal.addTracker(tracker: NewTracker(name: "Custom \(i)", kind: kind))
            let entry = try journal.log(entry: NewEntry(tracker: tracker.name, value: value, atMs: at, zone: "UTC"))
            XCTAssertEqual(entry.tracker, tracker.id)
            XCTAssertEqual(try journal.entry(id: entry.id).value, value)
        }
    }

    func testBlankNotesAreStoredAsNone() throws {
        let journal = try makeJournal()
        XCTAssertNil(try journal.log(entry: moodEntry(5, note: "   ")).note)
        XCTAssertNil(try journal.log(entry: moodEntry(5, note: "")).note)
    }

    func testUpdateEntryKeepsIdAndCreationTime() throws {
        let journal = try makeJournal()
        let entry = try journal.log(entry: moodEntry(3, note: "rough morning"))
        let updated = try journal.updateEntry(
            id: entry.id, entry: moodEntry(5, at: entry.atMs, zone: "UTC", note: "better by noon"))
        XCTAssertEqual(updated.id, entry.id)
        XCTAssertEqual(updated.createdAtMs, entry.createdAtMs)
        XCTAssertGreaterThanOrEqual(updated.updatedAtMs, entry.updatedAtMs)
        XCTAssertEqual(updated.revision, 2)
        XCTAssertEqual(updated.value, .scale(value: 5))
        XCTAssertEqual(updated.note, "better by noon")
        XCTAssertEqual(updated.zone, "UTC")
        XCTAssertEqual(try journal.entry(id: entry.id), updated)
        assertThrows(.notFound) { try journal.updateEntry(id: String(repeating: "0", count: 32), entry: moodEntry(5)) }
    }

    func testDeleteEntryRemovesIt() throws {
        let journal = try makeJournal()
        let kept = try journal.log(entry: moodEntry(5))
        let gone = try journal.log(entry: moodEntry(2))
        try journal.deleteEntry(id: gone.id)
        assertThrows(.notFound) { try journal.entry(id: gone.id) }
        assertThrows(.notFound) { try journal.deleteEntry(id: gone.id) }
        assertThrows(.notFound) { try journal.updateEntry(id: gone.id, entry: moodEntry(3)) }
        XCTAssertEqual(try journal.entries(query: EntryQuery()).entries.map(\.id), [kept.id])
    }

    func testEntryWithUnknownIdIsNotFound() throws {
        let journal = try makeJournal()
        assertThrows(.notFound) { try journal.entry(id: String(repeating: "a", count: 32)) }
        assertThrows(.invalidInput) { try journal.entry(id: "no such id") }
    }

    func testEntriesArePagedInTimeOrder() throws {
        let journal = try makeJournal()
        let now = nowMs()
        let logged = try (0..<5).map { i in
            try journal.log(entry: moodEntry(Double(i), at: now - Int64(5 - i) * hourMs))
        }

        func allPages(_ query: EntryQuery) throws -> [[String]] {
            var query = query
            var pages: [[String]] = []
            repeat {
                let page = try journal.entries(query: query)
                XCTAssertEqual(page.corrupted, [])
                if !page.entries.isEmpty { pages.append(page.entries.map(\.id)) }
                query.after = page.next
            } while query.after != nil && pages.count < 10
            return pages
        }

        let oldestFirst = try allPages(EntryQuery(limit: 2))
        XCTAssertEqual(oldestFirst.map(\.count), [2, 2, 1])
        XCTAssertEqual(oldestFirst.flatMap { $0 }, logged.map(\.id))

        let newestFirst = try allPages(EntryQuery(limit: 2, newestFirst: true))
        XCTAssertEqual(newestFirst.flatMap { $0 }, logged.reversed().map(\.id))

        XCTAssertEqual(try journal.entries(query: EntryQuery()).entries.map(\.id), logged.map(\.id))
        XCTAssertNil(try journal.entries(query: EntryQuery()).next)
    }

    func testEntriesFilterByTrackerAndInstant() throws {
        let journal = try makeJournal()
        let now = nowMs()
        let old = try journal.log(entry: moodEntry(4, at: now - 3 * hourMs))
        let middle = try journal.log(entry: NewEntry(tracker: "anxiety", value: .scale(value: 6), atMs: now - 2 * hourMs, zone: "UTC"))
        let recent = try journal.log(entry: moodEntry(8, at: now - hourMs))

        XCTAssertEqual(try journal.entries(query: EntryQuery(tracker: "mood")).entries.map(\.id), [old.id, recent.id])
        XCTAssertEqual(try journal.entries(query: EntryQuery(tracker: "Anxiety")).entries.map(\.id), [middle.id])
        XCTAssertEqual(
            try journal.entries(query: EntryQuery(fromMs: now - 2 * hourMs)).entries.map(\.id),
            [middle.id, recent.id])
        XCTAssertEqual(
            try journal.entries(query: EntryQuery(toMs: now - 2 * hourMs)).entries.map(\.id),
            [old.id], "toMs is exclusive")
        XCTAssertEqual(
            try journal.entries(query: EntryQuery(fromMs: now - 3 * hourMs, toMs: now, tracker: "mood", newestFirst: true))
                .entries.map(\.id),
            [recent.id, old.id])
        assertThrows(.invalidInput) { try journal.entries(query: EntryQuery(tracker: "no such tracker")) }
        assertThrows(.invalidInput) { try journal.entries(query: EntryQuery(limit: 0)) }
        assertThrows(.invalidInput) { try journal.entries(query: EntryQuery(after: "not a cursor")) }
    }

    func testEntriesFilterByLocalDayInEachEntrysZone() throws {
        let journal = try makeJournal()
        let now = nowMs()
        let logged = try [
            moodEntry(2, at: now - 3 * dayMs, zone: "Europe/Paris"),
            moodEntry(3, at: now - 2 * dayMs, zone: "Asia/Tokyo"),
            moodEntry(4, at: now - 1 * dayMs, zone: "UTC"),
            moodEntry(5, at: now - hourMs, zone: "Europe/Paris"),
        ].map { try journal.log(entry: $0) }
        for entry in logged {
            XCTAssertEqual(entry.localDate, localDay(entry.atMs, entry.zone))
        }

        let day = logged[1].localDate
        let expected = logged.filter { $0.localDate == day }.map(\.id)
        XCTAssertEqual(try journal.entries(query: EntryQuery(fromDay: day, toDay: day)).entries.map(\.id), expected)
        let fromDay = logged[2].localDate
        XCTAssertEqual(
            try journal.entries(query: EntryQuery(fromDay: fromDay)).entries.map(\.id),
            logged.filter { $0.localDate >= fromDay }.map(\.id))
        XCTAssertEqual(
            try journal.entries(query: EntryQuery(toDay: day)).entries.map(\.id),
            logged.filter { $0.localDate <= day }.map(\.id))

        for bad in ["2026-13-45", "yesterday", "", "2026-02-30"] {
            assertThrows(.invalidInput, bad) { try journal.entries(query: EntryQuery(fromDay: bad)) }
            assertThrows(.invalidInput, bad) { try journal.entries(query: EntryQuery(toDay: bad)) }
            assertThrows(.invalidInput, bad) { try journal.summary(query: EntryQuery(fromDay: bad)) }
        }
    }

    func testSummaryCountsAndAveragesPerTracker() throws {
        let journal = try makeJournal()
        let now = nowMs()
        for (i, v) in [2.0, 4.0, 9.0].enumerated() {
            _ = try journal.log(entry: moodEntry(v, at: now - Int64(i + 1) * hourMs))
        }
        _ = try journal.log(entry: NewEntry(tracker: "anxiety", value: .scale(value: 5), atMs: now, zone: "UTC"))

        let summary = try journal.summary(query: EntryQuery(limit: 1))  // limit is ignored
        let mood = try XCTUnwrap(summary.first { $0.tracker == "mood" })
        XCTAssertEqual(mood, TrackerSummary(tracker: "mood", count: 3, mean: 5, min: 2, max: 9))
        XCTAssertEqual(summary.first { $0.tracker == "anxiety" }?.count, 1)

        let recent = try journal.summary(query: EntryQuery(fromMs: now - hourMs - 1, tracker: "mood"))
        XCTAssertEqual(recent, [TrackerSummary(tracker: "mood", count: 1, mean: 2, min: 2, max: 2)])
        XCTAssertEqual(try journal.summary(query: EntryQuery(fromMs: now + hourMs)), [])
    }

    func testTagsOnLowDaysCountsTagsOfDaysAtOrBelowThreshold() throws {
        let journal = try makeJournal()
        let now = nowMs()
        let lowDay = now - 2 * dayMs
        let goodDay = now - dayMs
        _ = try journal.log(entry: moodEntry(2, at: lowDay, zone: "UTC", tags: [try parseTag(text: "trigger:work")]))
        _ = try journal.log(entry: NewEntry(
            tracker: "anxiety", value: .scale(value: 8), atMs: lowDay + 1000, zone: "UTC",
            tags: [try parseTag(text: "trigger:deadline"), try parseTag(text: "trigger:work")]))
        _ = try journal.log(entry: moodEntry(8, at: goodDay, zone: "UTC", tags: [try parseTag(text: "activity:walk")]))

        let counts = try journal.tagsOnLowDays(query: EntryQuery(), tracker: "Mood", threshold: 4)
        XCTAssertEqual(counts, [
            TagCount(tag: Tag(group: .trigger, label: "work"), count: 2),
            TagCount(tag: Tag(group: .trigger, label: "deadline"), count: 1),
        ])
        XCTAssertEqual(try journal.tagsOnLowDays(query: EntryQuery(), tracker: "mood", threshold: 1), [])
        XCTAssertEqual(
            try journal.tagsOnLowDays(query: EntryQuery(), tracker: "mood", threshold: 10).map(\.tag.label),
            ["work", "deadline", "walk"])
        XCTAssertEqual(try journal.tagsOnLowDays(query: EntryQuery(fromMs: goodDay), tracker: "mood", threshold: 10).count, 1)
        assertThrows(.invalidInput) { try journal.tagsOnLowDays(query: EntryQuery(), tracker: "Mars", threshold: 4) }
    }

    /// `YYYY-MM-DD` of `ms` in `zone`, by Foundation.
    private func localDay(_ ms: Int64, _ zone: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        let c = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(ms) / 1000))
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }
}
