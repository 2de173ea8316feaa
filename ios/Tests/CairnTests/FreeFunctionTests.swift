import Cairn
import XCTest

final class FreeFunctionTests: XCTestCase {
    func testGenerateKeyMakesDistinct32ByteKeys() throws {
        let a = try generateKey()
        let b = try generateKey()
        XCTAssertEqual(a.count, 32)
        XCTAssertEqual(b.count, 32)
        XCTAssertNotEqual(a, b)
    }

    func testBuiltinTrackersAreListedWithTheirKinds() throws {
        let trackers = builtinTrackers()
        XCTAssertTrue(trackers.allSatisfy { $0.builtin })
        let ids = trackers.map(\.id.value)
        for id in ["mood", "anxiety", "sleep", "energy", "appetite", "medication"] {
            XCTAssertTrue(ids.contains(id), id)
        }
        let mood = try? XCTUnwrap(trackers.first { $0.id == TrackerId("mood") })
        XCTAssertEqual(mood?.name, "Mood")
        guard case let .scale(min, max, _, minLabel, maxLabel)? = mood?.kind else {
            return XCTFail("mood is a scale: \(String(describing: mood))")
        }
        XCTAssertEqual(min, 0)
        XCTAssertEqual(max, 10)
        XCTAssertFalse(minLabel.isEmpty)
        XCTAssertFalse(maxLabel.isEmpty)
        XCTAssertEqual(trackers.first { $0.id == TrackerId("sleep") }?.kind, .sleep)
        XCTAssertEqual(trackers.first { $0.id == TrackerId("medication") }?.kind, .medication)
        for questionnaire in questionnaires() {
            XCTAssertEqual(trackers.first { $0.id.value == questionnaire.id }?.kind, .questionnaire(questionnaire: questionnaire.id))
        }
    }

    func testParseTagReadsGroupsAndPlainLabels() throws {
        XCTAssertEqual(try parseTag(text: "trigger:work"), Tag(group: .trigger, label: "work"))
        XCTAssertEqual(try parseTag(text: "activity:walk"), Tag(group: .activity, label: "walk"))
        XCTAssertEqual(try parseTag(text: "family"), Tag(group: .other, label: "family"))
    }

    func testParseTagRefusesBlankAndOverlongLabels() async {
        await assertThrows(.invalidInput) { try parseTag(text: "  ") }
        await assertThrows(.invalidInput) { try parseTag(text: "") }
        await assertThrows(.invalidInput) { try parseTag(text: "trigger:") }
        await assertThrows(.invalidInput) { try parseTag(text: String(repeating: "x", count: 65)) }
    }

    func testParseValueReadsWhatPeopleType() throws {
        let scale = TrackerKind.scale(min: 0, max: 10, step: 1, minLabel: "low", maxLabel: "high")
        XCTAssertEqual(try parseValue(kind: scale, text: "7"), .scale(value: 7))
        XCTAssertEqual(try parseValue(kind: .yesNo, text: "yes"), .yesNo(value: true))
        XCTAssertEqual(try parseValue(kind: .yesNo, text: "no"), .yesNo(value: false))
        XCTAssertEqual(try parseValue(kind: .duration(maxMinutes: 600), text: "7h30m"), .duration(minutes: 450))
        XCTAssertEqual(try parseValue(kind: .count, text: "12"), .count(value: 12))
        XCTAssertEqual(try parseValue(kind: .text, text: "a good day"), .text(text: "a good day"))
        XCTAssertEqual(try parseValue(kind: .sleep, text: "8h"), .sleep(minutes: 480, quality: nil))
        XCTAssertEqual(
            try parseValue(kind: .medication, text: "sertraline 50mg"),
            .medication(name: "sertraline 50mg", taken: true)
        )
    }

    func testParseValueRefusesWhatDoesNotFitTheKind() async {
        let scale = TrackerKind.scale(min: 0, max: 10, step: 1, minLabel: "low", maxLabel: "high")
        await assertThrows(.invalidInput) { try parseValue(kind: scale, text: "seven") }
        await assertThrows(.invalidInput) { try parseValue(kind: scale, text: "11") }
        await assertThrows(.invalidInput) { try parseValue(kind: .yesNo, text: "maybe") }
        await assertThrows(.invalidInput) { try parseValue(kind: .count, text: "-1") }
        await assertThrows(.invalidInput) { try parseValue(kind: .duration(maxMinutes: 60), text: "soon") }
        await assertThrows(.invalidInput) { try parseValue(kind: .sleep, text: "30h") }
    }

    func testCoreVersionIsSemver() {
        let version = coreVersion()
        let parts = version.split(separator: ".")
        XCTAssertEqual(parts.count, 3, version)
        XCTAssertTrue(parts.allSatisfy { Int($0) != nil }, version)
    }

    func testNotificationIdPrefixIsThePlansPrefix() {
        XCTAssertEqual(notificationIdPrefix(), "cairn-")
    }
}
