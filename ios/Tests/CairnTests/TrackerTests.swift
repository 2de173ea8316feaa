import Cairn
import XCTest

final class TrackerTests: JournalTestCase {
    func testTrackersListBuiltinsFirstThenCustomOnes() async throws {
        let journal = try await makeJournal()
        let builtins = builtinTrackers()
        let before = try await journal.trackers()
        XCTAssertEqual(before, builtins)
        let water = try await journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
        let trackers = try await journal.trackers()
        XCTAssertEqual(Array(trackers.prefix(builtins.count)), builtins)
        XCTAssertEqual(trackers.last, water)
    }

    func testTrackerIsFoundByIdOrNameIgnoringCase() async throws {
        let journal = try await makeJournal()
        let mood = try await journal.tracker(idOrName: "mood")
        XCTAssertEqual(mood.name, "Mood")
        let upper = try await journal.tracker(idOrName: "MOOD")
        XCTAssertEqual(upper.id, TrackerId("mood"))
        let custom = try await journal.addTracker(tracker: NewTracker(name: "Journaling", kind: .text))
        let byId = try await journal.tracker(idOrName: custom.id.value)
        XCTAssertEqual(byId, custom)
        let byName = try await journal.tracker(idOrName: "journaling")
        XCTAssertEqual(byName, custom)
        await assertThrows(.unknownTracker) { try await journal.tracker(idOrName: "no such tracker") }
    }

    func testAddTrackerDefinesACustomScale() async throws {
        let journal = try await makeJournal()
        let kind = TrackerKind.scale(min: 1, max: 5, step: 0.5, minLabel: "calm", maxLabel: "restless")
        let tracker = try await journal.addTracker(tracker: NewTracker(name: "Restlessness", kind: kind))
        XCTAssertEqual(tracker.id.value.count, 32)
        XCTAssertEqual(tracker.name, "Restlessness")
        XCTAssertEqual(tracker.kind, kind)
        XCTAssertFalse(tracker.builtin)

        let entry = try await journal.log(entry: NewEntry(tracker: "Restlessness", value: .scale(value: 3.5), at: rightNow(), zone: utcZone))
        XCTAssertEqual(entry.tracker, tracker.id)
        await assertThrows(.invalidInput) {
            try await journal.log(entry: NewEntry(tracker: tracker.id.value, value: .scale(value: 6), at: rightNow(), zone: utcZone))
        }
    }

    func testAddTrackerRefusesDuplicatesAndBadDefinitions() async throws {
        let journal = try await makeJournal()
        _ = try await journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
        await assertThrows(.duplicateTracker) { try await journal.addTracker(tracker: NewTracker(name: "water", kind: .count)) }
        await assertThrows(.duplicateTracker) { try await journal.addTracker(tracker: NewTracker(name: "Mood", kind: .count)) }
        await assertThrows(.invalidInput) { try await journal.addTracker(tracker: NewTracker(name: "  ", kind: .count)) }
        await assertThrows(.invalidInput) { try await journal.addTracker(tracker: NewTracker(name: "Sleep 2", kind: .sleep)) }
        await assertThrows(.invalidInput) { try await journal.addTracker(tracker: NewTracker(name: "Pills", kind: .medication)) }
        await assertThrows(.invalidInput) {
            try await journal.addTracker(tracker: NewTracker(
                name: "Upside down", kind: .scale(min: 5, max: 1, step: 1, minLabel: "a", maxLabel: "b")))
        }
        await assertThrows(.invalidInput) {
            try await journal.addTracker(tracker: NewTracker(name: "Forever", kind: .duration(maxMinutes: 0)))
        }
        await assertInvalid("maxMinutes") {
            try await journal.addTracker(tracker: NewTracker(name: "Backwards", kind: .duration(maxMinutes: -1)))
        }
    }

    func testDeleteTrackerKeepsItsEntries() async throws {
        let journal = try await makeJournal()
        let water = try await journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
        let entry = try await journal.log(entry: NewEntry(tracker: water.id.value, value: .count(value: 6), at: rightNow(), zone: utcZone))
        try await journal.deleteTracker(id: water.id)

        await assertThrows(.unknownTracker) { try await journal.tracker(idOrName: "Water") }
        let trackers = try await journal.trackers()
        XCTAssertFalse(trackers.contains(water))
        let read = try await journal.entry(id: entry.id)
        XCTAssertEqual(read.value, .count(value: 6))
        await assertThrows(.notFound) { try await journal.deleteTracker(id: water.id) }
        await assertThrows(.invalidInput) { try await journal.deleteTracker(id: TrackerId("mood")) }
        await assertThrows(.invalidInput) { try await journal.deleteTracker(id: TrackerId("Water")) }  // an id, not a name
        await assertThrows(.invalidInput) { try await journal.deleteTracker(id: TrackerId(water.id.value.uppercased())) }
        let mood = try await journal.tracker(idOrName: "mood")
        XCTAssertEqual(mood.id, TrackerId("mood"))
    }
}
