import Cairn
import Foundation
import XCTest

/// Days since 1970-01-01 of a local day, to compare days.
func dayNumber(_ c: DateComponents) -> Int64 {
    epochDay(Int64(c.year!), Int64(c.month!), Int64(c.day!))
}

final class EntryTests: JournalTestCase {
    func testLogReturnsTheEntryWithItsLocalTime() async throws {
        let journal = try await makeJournal()
        let at = rightNow().shifted(-2 * hour)
        let tags = [try parseTag(text: "trigger:work"), try parseTag(text: "activity:walk")]
        let entry = try await journal.log(entry: moodEntry(7, at: at, zone: tokyo, note: "a calm evening", tags: tags))

        XCTAssertEqual(entry.id.value.count, 32)
        XCTAssertEqual(entry.tracker, TrackerId("mood"))
        XCTAssertEqual(entry.value, .scale(value: 7))
        XCTAssertEqual(entry.note, "a calm evening")
        XCTAssertEqual(Set(entry.tags), Set(tags))
        XCTAssertEqual(entry.at, at)
        XCTAssertEqual(entry.zone, tokyo)
        XCTAssertEqual(entry.zone.identifier, "Asia/Tokyo")
        XCTAssertEqual(entry.utcOffsetSeconds, 9 * 3600)
        XCTAssertEqual(entry.localDate, foundationDay(at, tokyo))
        XCTAssertEqual(entry.revision, 1)
        XCTAssertEqual(entry.createdAt, entry.updatedAt)
        XCTAssertLessThanOrEqual(abs(entry.createdAt.timeIntervalSinceNow), 60)
        let read = try await journal.entry(id: entry.id)
        XCTAssertEqual(read, entry)
    }

    func testLogAcceptsEveryKindOfValue() async throws {
        let journal = try await makeJournal()
        let at = rightNow()
        let values: [(String, Value)] = [
            ("anxiety", .scale(value: 3)),
            ("appetite", .scale(value: -1)),
            ("sleep", .sleep(minutes: 450, quality: 6)),
            ("medication", .medication(name: "sertraline 50mg", taken: true)),
        ]
        for (tracker, value) in values {
            let entry = try await journal.log(entry: NewEntry(tracker: tracker, value: value, at: at, zone: utcZone))
            let read = try await journal.entry(id: entry.id)
            XCTAssertEqual(read.value, value, tracker)
        }
        let custom: [(TrackerKind, Value)] = [
            (.yesNo, .yesNo(value: true)),
            (.duration(maxMinutes: 600), .duration(minutes: 45)),
            (.count, .count(value: 8)),
            (.text, .text(text: "three good things")),
        ]
        for (i, (kind, value)) in custom.enumerated() {
            let tracker = try await journal.addTracker(tracker: NewTracker(name: "Custom \(i)", kind: kind))
            let entry = try await journal.log(entry: NewEntry(tracker: tracker.name, value: value, at: at, zone: utcZone))
            XCTAssertEqual(entry.tracker, tracker.id)
            let read = try await journal.entry(id: entry.id)
            XCTAssertEqual(read.value, value)
        }
    }

    func testBlankNotesAreStoredAsNone() async throws {
        let journal = try await makeJournal()
        let blank = try await journal.log(entry: moodEntry(5, note: "   "))
        XCTAssertNil(blank.note)
        let empty = try await journal.log(entry: moodEntry(5, note: ""))
        XCTAssertNil(empty.note)
    }

    func testUpdateEntryKeepsIdAndCreationTime() async throws {
        let journal = try await makeJournal()
        let entry = try await journal.log(entry: moodEntry(3, note: "rough morning"))
        let updated = try await journal.updateEntry(
            id: entry.id, entry: moodEntry(5, at: entry.at, zone: utcZone, note: "better by noon"))
        XCTAssertEqual(updated.id, entry.id)
        XCTAssertEqual(updated.createdAt, entry.createdAt)
        XCTAssertGreaterThanOrEqual(updated.updatedAt, entry.updatedAt)
        XCTAssertEqual(updated.revision, 2)
        XCTAssertEqual(updated.value, .scale(value: 5))
        XCTAssertEqual(updated.note, "better by noon")
        XCTAssertEqual(updated.zone, utcZone)
        let read = try await journal.entry(id: entry.id)
        XCTAssertEqual(read, updated)
        await assertThrows(.notFound) { try await journal.updateEntry(id: unknownEntryId(), entry: moodEntry(5)) }
    }

    func testDeleteEntryRemovesIt() async throws {
        let journal = try await makeJournal()
        let kept = try await journal.log(entry: moodEntry(5))
        let gone = try await journal.log(entry: moodEntry(2))
        try await journal.deleteEntry(id: gone.id)
        await assertThrows(.notFound) { try await journal.entry(id: gone.id) }
        await assertThrows(.notFound) { try await journal.deleteEntry(id: gone.id) }
        await assertThrows(.notFound) { try await journal.updateEntry(id: gone.id, entry: moodEntry(3)) }
        let page = try await journal.entries(query: EntryQuery())
        XCTAssertEqual(page.entries.map(\.id), [kept.id])
    }

    func testEntryWithUnknownIdIsNotFound() async throws {
        let journal = try await makeJournal()
        let error = await assertThrows(.notFound) { try await journal.entry(id: unknownEntryId("a")) }
        XCTAssertEqual(error, .notFound(table: "entries", id: String(repeating: "a", count: 32)))
        await assertThrows(.invalidInput) { try await journal.entry(id: EntryId("no such id")) }
    }

    func testEntriesArePagedInTimeOrder() async throws {
        let journal = try await makeJournal()
        let now = rightNow()
        var logged: [Entry] = []
        for i in 0..<5 {
            logged.append(try await journal.log(entry: moodEntry(Double(i), at: now.shifted(-Double(5 - i) * hour))))
        }

        func allPages(_ query: EntryQuery) async throws -> [[EntryId]] {
            var after: String?
            var pages: [[EntryId]] = []
            repeat {
                let page = try await journal.entries(query: EntryQuery(
                    limit: query.limit, after: after, newestFirst: query.newestFirst))
                XCTAssertEqual(page.corrupted, [])
                if !page.entries.isEmpty { pages.append(page.entries.map(\.id)) }
                after = page.next
            } while after != nil && pages.count < 10
            return pages
        }

        let oldestFirst = try await allPages(EntryQuery(limit: 2))
        XCTAssertEqual(oldestFirst.map(\.count), [2, 2, 1])
        XCTAssertEqual(oldestFirst.flatMap { $0 }, logged.map(\.id))

        let newestFirst = try await allPages(EntryQuery(limit: 2, newestFirst: true))
        XCTAssertEqual(newestFirst.flatMap { $0 }, logged.reversed().map(\.id))

        let all = try await journal.entries(query: EntryQuery())
        XCTAssertEqual(all.entries.map(\.id), logged.map(\.id))
        XCTAssertNil(all.next)
    }

    func testEntriesFilterByTrackerAndInstant() async throws {
        let journal = try await makeJournal()
        let now = rightNow()
        let old = try await journal.log(entry: moodEntry(4, at: now.shifted(-3 * hour)))
        let middle = try await journal.log(entry: NewEntry(
            tracker: "anxiety", value: .scale(value: 6), at: now.shifted(-2 * hour), zone: utcZone))
        let recent = try await journal.log(entry: moodEntry(8, at: now.shifted(-hour)))

        func ids(_ query: EntryQuery) async throws -> [EntryId] {
            try await journal.entries(query: query).entries.map(\.id)
        }
        var found = try await ids(EntryQuery(tracker: "mood"))
        XCTAssertEqual(found, [old.id, recent.id])
        found = try await ids(EntryQuery(tracker: "Anxiety"))
        XCTAssertEqual(found, [middle.id])
        found = try await ids(EntryQuery(from: now.shifted(-2 * hour)))
        XCTAssertEqual(found, [middle.id, recent.id])
        found = try await ids(EntryQuery(to: now.shifted(-2 * hour)))
        XCTAssertEqual(found, [old.id], "to is exclusive")
        found = try await ids(EntryQuery(from: now.shifted(-3 * hour), to: now, tracker: "mood", newestFirst: true))
        XCTAssertEqual(found, [recent.id, old.id])
        await assertThrows(.unknownTracker) { try await journal.entries(query: EntryQuery(tracker: "no such tracker")) }
        await assertInvalid("limit") { try await journal.entries(query: EntryQuery(limit: 0)) }
        await assertInvalid("limit") { try await journal.entries(query: EntryQuery(limit: -1)) }
        await assertThrows(.invalidInput) { try await journal.entries(query: EntryQuery(after: "not a cursor")) }
    }

    func testEntriesFilterByLocalDayInEachEntrysZone() async throws {
        let journal = try await makeJournal()
        let now = rightNow()
        var logged: [Entry] = []
        for new in [
            moodEntry(2, at: now.shifted(-3 * day), zone: paris),
            moodEntry(3, at: now.shifted(-2 * day), zone: tokyo),
            moodEntry(4, at: now.shifted(-1 * day), zone: utcZone),
            moodEntry(5, at: now.shifted(-hour), zone: paris),
        ] {
            logged.append(try await journal.log(entry: new))
        }
        for entry in logged {
            XCTAssertEqual(entry.localDate, foundationDay(entry.at, entry.zone))
        }
        func ids(_ query: EntryQuery) async throws -> [EntryId] {
            try await journal.entries(query: query).entries.map(\.id)
        }

        let day = logged[1].localDate
        var found = try await ids(EntryQuery(fromDay: day, toDay: day))
        XCTAssertEqual(found, logged.filter { $0.localDate == day }.map(\.id))
        let fromDay = logged[2].localDate
        found = try await ids(EntryQuery(fromDay: fromDay))
        XCTAssertEqual(found, logged.filter { dayNumber($0.localDate) >= dayNumber(fromDay) }.map(\.id))
        found = try await ids(EntryQuery(toDay: day))
        XCTAssertEqual(found, logged.filter { dayNumber($0.localDate) <= dayNumber(day) }.map(\.id))

        let bad: [DateComponents] = [
            DateComponents(year: 2026, month: 13, day: 45),
            DateComponents(year: 2026, month: 2, day: 30),
            DateComponents(year: 2026, month: 2),
            DateComponents(),
        ]
        for c in bad {
            await assertInvalid("fromDay", "\(c)") { try await journal.entries(query: EntryQuery(fromDay: c)) }
            await assertInvalid("toDay", "\(c)") { try await journal.entries(query: EntryQuery(toDay: c)) }
            await assertInvalid("fromDay", "\(c)") { try await journal.summary(query: EntryQuery(fromDay: c)) }
        }
    }

    func testSummaryCountsAndAveragesPerTracker() async throws {
        let journal = try await makeJournal()
        let now = rightNow()
        for (i, v) in [2.0, 4.0, 9.0].enumerated() {
            _ = try await journal.log(entry: moodEntry(v, at: now.shifted(-Double(i + 1) * hour)))
        }
        _ = try await journal.log(entry: NewEntry(tracker: "anxiety", value: .scale(value: 5), at: now, zone: utcZone))

        let summary = try await journal.summary(query: EntryQuery(limit: 1))  // limit is ignored
        let mood = try XCTUnwrap(summary.first { $0.tracker == TrackerId("mood") })
        XCTAssertEqual(mood, TrackerSummary(tracker: TrackerId("mood"), count: 3, mean: 5, min: 2, max: 9))
        XCTAssertEqual(summary.first { $0.tracker == TrackerId("anxiety") }?.count, 1)

        let recent = try await journal.summary(query: EntryQuery(from: now.shifted(-hour - 0.001), tracker: "mood"))
        XCTAssertEqual(recent, [TrackerSummary(tracker: TrackerId("mood"), count: 1, mean: 2, min: 2, max: 2)])
        let none = try await journal.summary(query: EntryQuery(from: now.shifted(hour)))
        XCTAssertEqual(none, [])
    }

    func testTagsOnLowDaysCountsTagsOfDaysAtOrBelowThreshold() async throws {
        let journal = try await makeJournal()
        let now = rightNow()
        let lowDay = now.shifted(-2 * day)
        let goodDay = now.shifted(-day)
        _ = try await journal.log(entry: moodEntry(2, at: lowDay, zone: utcZone, tags: [try parseTag(text: "trigger:work")]))
        _ = try await journal.log(entry: NewEntry(
            tracker: "anxiety", value: .scale(value: 8), at: lowDay.shifted(1), zone: utcZone,
            tags: [try parseTag(text: "trigger:deadline"), try parseTag(text: "trigger:work")]))
        _ = try await journal.log(entry: moodEntry(8, at: goodDay, zone: utcZone, tags: [try parseTag(text: "activity:walk")]))

        let counts = try await journal.tagsOnLowDays(query: EntryQuery(), tracker: "Mood", threshold: 4)
        XCTAssertEqual(counts, [
            TagCount(tag: Tag(group: .trigger, label: "work"), count: 2),
            TagCount(tag: Tag(group: .trigger, label: "deadline"), count: 1),
        ])
        let none = try await journal.tagsOnLowDays(query: EntryQuery(), tracker: "mood", threshold: 1)
        XCTAssertEqual(none, [])
        let every = try await journal.tagsOnLowDays(query: EntryQuery(), tracker: "mood", threshold: 10)
        XCTAssertEqual(every.map(\.tag.label), ["work", "deadline", "walk"])
        let recent = try await journal.tagsOnLowDays(query: EntryQuery(from: goodDay), tracker: "mood", threshold: 10)
        XCTAssertEqual(recent.count, 1)
        await assertThrows(.unknownTracker) { try await journal.tagsOnLowDays(query: EntryQuery(), tracker: "Mars", threshold: 4) }
    }
}
