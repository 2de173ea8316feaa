import Cairn
import XCTest

final class TrackerTests: JournalTestCase {
    func testTrackersListBuiltinsFirstThenCustomOnes() throws {
        let journal = try makeJournal()
        XCTAssertEqual(try journal.trackers(), try builtinTrackers())
        let water = try journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
        let trackers = try journal.trackers()
        let builtins = try builtinTrackers()
        XCTAssertEqual(Array(trackers.prefix(builtins.count)), builtins)
        XCTAssertEqual(trackers.last, water)
    }

    func testTrackerIsFoundByIdOrNameIgnoringCase() throws {
        let journal = try makeJournal()
        XCTAssertEqual(try journal.tracker(idOrName: "mood").name, "Mood")
        XCTAssertEqual(try journal.tracker(idOrName: "MOOD").id, "mood")
        let custom = try journal.addTracker(tracker: NewTracker(name: "Journaling", kind: .text))
        XCTAssertEqual(try journal.tracker(idOrName: custom.id), custom)
        XCTAssertEqual(try journal.tracker(idOrName: "journaling"), custom)
        assertThrows(.invalidInput) { try journal.tracker(idOrName: "no such tracker") }
    }

    func testAddTrackerDefinesACustomScale() throws {
        let journal = try makeJournal()
        let kind = TrackerKind.scale(min: 1, max: 5, step: 0.5, minLabel: "calm", maxLabel: "restless")
        let tracker = try journal.addTracker(tracker: NewTracker(name: "Restlessness", kind: kind))
        XCTAssertEqual(tracker.id.count, 32)
        XCTAssertEqual(tracker.name, "Restlessness")
        XCTAssertEqual(tracker.kind, kind)
        XCTAssertFalse(tracker.builtin)

        let entry = try journal.log(entry: NewEntry(tracker: "Restlessness", value: .scale(value: 3.5), atMs: nowMs(), zone: "UTC"))
        XCTAssertEqual(entry.tracker, tracker.id)
        assertThrows(.invalidInput) {
            try journal.log(entry: NewEntry(tracker: tracker.id, value: .scale(value: 6), atMs: nowMs(), zone: "UTC"))
        }
    }

    func testAddTrackerRefusesDuplicatesAndBadDefinitions() throws {
        let journal = try makeJournal()
        _ = try journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
        assertThrows(.invalidInput) { try journal.addTracker(tracker: NewTracker(name: "water", kind: .count)) }
        assertThrows(.invalidInput) { try journal.addTracker(tracker: NewTracker(name: "Mood", kind: .count)) }
        assertThrows(.invalidInput) { try journal.addTracker(tracker: NewTracker(name: "  ", kind: .count)) }
        assertThrows(.invalidInput) { try journal.addTracker(tracker: NewTracker(name: "Sleep 2", kind: .sleep)) }
        assertThrows(.invalidInput) { try journal.addTracker(tracker: NewTracker(name: "Pills", kind: .medication)) }
        assertThrows(.invalidInput) {
            try journal.addTracker(tracker: NewTracker(
                name: "Upside down", kind: .scale(min: 5, max: 1, step: 1, minLabel: "a", maxLabel: "b")))
        }
        assertThrows(.invalidInput) {
            try journal.addTracker(tracker: NewTracker(name: "Forever", kind: .duration(maxMinutes: 0)))
        }
    }

    func testDeleteTrackerKeepsItsEntries() throws {
        let journal = try makeJournal()
        let water = try journal.addTracker(tracker: NewTracker(name: "Water", kind: .count))
        let entry = try journal.log(entry: NewEntry(tracker: water.id, value: .count(value: 6), atMs: nowMs(), zone: "UTC"))
        try journal.deleteTracker(id: water.id)

        assertThrows(.invalidInput) { try journal.tracker(idOrName: "Water") }
        XCTAssertFalse(try journal.trackers().contains(water))
        XCTAssertEqual(try journal.entry(id: entry.id).value, .count(value: 6))
        assertThrows(.notFound) { try journal.deleteTracker(id: water.id) }
        assertThrows(.invalidInput) { try journal.deleteTracker(id: "mood") }
        assertThrows(.invalidInput) { try journal.deleteTracker(id: "Water") }  // an id, not a name
        assertThrows(.invalidInput) { try journal.deleteTracker(id: water.id.uppercased()) }
        XCTAssertEqual(try journal.tracker(idOrName: "mood").id, "mood")
    }
}
