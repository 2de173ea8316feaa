import Cairn
import CairnKit
import Foundation
import XCTest

/// Questionnaires rendered from the reviewed table, check-ins and the flags
/// they raise, help now, the flag settings and rules, and the crisis
/// resources and monitoring statement (free functions, no journal).
final class CheckInAndFlagsTests: JournalTestCase {
    func testPhq9RendersFromTheTable() throws {
        let all = questionnaires()
        XCTAssertEqual(all.map(\.id), ["phq9", "phq2", "gad7", "gad2"])
        let phq9 = try XCTUnwrap(all.first { $0.id == "phq9" })
        XCTAssertEqual(phq9.name, "PHQ-9")
        XCTAssertTrue(phq9.prompt.hasPrefix("Over the last 2 weeks"), phq9.prompt)
        XCTAssertEqual(phq9.items.count, 10)
        XCTAssertTrue(phq9.items.allSatisfy { $0.options.count == 4 })
        XCTAssertEqual(phq9.items[0].options.map(\.value), [0, 1, 2, 3])
        XCTAssertEqual(phq9.items[0].options[0], AnswerOption(value: 0, text: "Not at all", loinc: "LA6568-5"))
        XCTAssertEqual(phq9.items[8].loinc, "44260-8")
        XCTAssertTrue(phq9.items[8].text.contains("better off dead"))
        XCTAssertEqual(phq9.items.map(\.scored), Array(repeating: true, count: 9) + [false], "item 10 (difficulty) is not scored")
        XCTAssertEqual(phq9.riskItem, 9)
        XCTAssertEqual(phq9.maxMissing, 2)
        XCTAssertNil(phq9.positiveAt)
        XCTAssertEqual(phq9.panelLoinc, "44249-1")
        XCTAssertEqual(phq9.totalLoinc, "44261-6")
        XCTAssertEqual(phq9.bands.map(\.name), ["minimal", "mild", "moderate", "moderately severe", "severe"])
        XCTAssertEqual(phq9.bands.last, ScoreBand(min: 20, max: 27, name: "severe"))
        let phq2 = try XCTUnwrap(all.first { $0.id == "phq2" })
        XCTAssertEqual(phq2.positiveAt, 3)
        XCTAssertEqual(phq2.items, Array(phq9.items.prefix(2)))
    }

    func testAPhq9WithItem9PositiveRaisesAnOpenFlag() async throws {
        let journal = try await makeJournal()
        let changes = journal.changes()
        let answers: [Int32?] = [1, 1, 1, 1, 1, 1, 1, 1, 2]
        let at = rightNow().shifted(-60)
        let checkIn = try await journal.checkin(questionnaire: "phq9", answers: answers, at: at, zone: paris)

        XCTAssertEqual(checkIn.score.total, 10)
        XCTAssertEqual(checkIn.score.band, "moderate")
        XCTAssertEqual(checkIn.score.item9Positive, true)
        XCTAssertEqual(checkIn.score.riskAnswer, 2)
        XCTAssertEqual(checkIn.score.answered, 9)
        XCTAssertEqual(checkIn.score.missing, 0)
        XCTAssertFalse(checkIn.score.prorated)
        XCTAssertEqual(try scoreAnswers(questionnaire: "PHQ-9", answers: answers), checkIn.score)

        XCTAssertEqual(checkIn.entry.tracker, TrackerId("phq9"))
        XCTAssertEqual(checkIn.entry.at, at)
        XCTAssertEqual(checkIn.entry.value, .answers(version: 1, answers: answers + [nil]), "one answer per item")
        let read = try await journal.entry(id: checkIn.entry.id)
        XCTAssertEqual(read, checkIn.entry)

        let flag = try XCTUnwrap(checkIn.flags.first)
        XCTAssertEqual(checkIn.flags.count, 1)
        XCTAssertEqual(flag.kind, "item9_positive")
        XCTAssertEqual(flag.title, "PHQ-9 item 9 positive")
        XCTAssertEqual(flag.state, .open)
        XCTAssertEqual(flag.source, checkIn.entry.id)
        XCTAssertNil(flag.acknowledgedAt)
        XCTAssertNil(flag.acknowledgedBy)
        XCTAssertTrue(flag.reason.contains("More than half the days"), flag.reason)
        XCTAssertEqual(flag.id.value.count, 32)
        let flags = try await journal.flags()
        XCTAssertEqual(flags, [flag])

        // Listeners hear the entry and the flag, in that order.
        let seen = try await withDeadline(30, "the check-in's changes") {
            var seen: [JournalChange] = []
            for await change in changes {
                seen.append(change)
                if seen.count == 2 { break }
            }
            return seen
        }
        XCTAssertEqual(seen, [
            JournalChange(table: .entries, ids: [checkIn.entry.id.value], deleted: false),
            JournalChange(table: .flags, ids: [flag.id.value], deleted: false),
        ])

        // A PHQ-9 with item 9 at 0 raises none.
        let calm = try await journal.checkin(
            questionnaire: "phq9", answers: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], at: rightNow(), zone: paris)
        XCTAssertEqual(calm.score.total, 0)
        XCTAssertEqual(calm.score.band, "minimal")
        XCTAssertEqual(calm.score.item9Positive, false)
        XCTAssertEqual(calm.flags, [])
        let after = try await journal.flags()
        XCTAssertEqual(after, [flag])
    }

    func testWrongAnswersAreInvalidInputAndSaveNothing() async throws {
        let journal = try await makeJournal()
        let nine: [Int32?] = Array(repeating: 0, count: 9)
        let refused: [(String, String, [Int32?])] = [
            ("8 answers", "phq9", Array(repeating: 0, count: 8)),
            ("11 answers", "phq9", Array(repeating: 0, count: 11)),
            ("no answers", "gad7", []),
            ("answer 4", "phq9", Array(nine.prefix(8)) + [4]),
            ("answer -1", "phq9", [-1] + nine.dropFirst()),
            ("answer 256", "phq9", [256] + nine.dropFirst()),
            ("3 answers to PHQ-2", "phq2", [0, 0, 0]),
        ]
        for (what, questionnaire, answers) in refused {
            await assertInvalid("answers", what) {
                try await journal.checkin(questionnaire: questionnaire, answers: answers, at: rightNow(), zone: paris)
            }
            await assertInvalid("answers", what) { try scoreAnswers(questionnaire: questionnaire, answers: answers) }
        }
        await assertInvalid("questionnaire") {
            try await journal.checkin(questionnaire: "phq8", answers: nine, at: rightNow(), zone: paris)
        }
        await assertInvalid("at") {
            try await journal.checkin(questionnaire: "phq9", answers: nine, at: utc("1969-12-31T00:00"), zone: paris)
        }
        await assertUnknownZone("zone") {
            try await journal.checkin(questionnaire: "phq9", answers: nine, at: rightNow(), zone: fixedOffsetZone)
        }
        let page = try await journal.entries(query: EntryQuery())
        XCTAssertEqual(page.entries, [])
        let flags = try await journal.flags()
        XCTAssertEqual(flags, [])

        // Unanswered items within the limit are prorated; beyond it, no total.
        let prorated = try scoreAnswers(questionnaire: "phq9", answers: [1, 1, 1, 1, 1, 1, 1, nil, 1])
        XCTAssertEqual(prorated.total, 9)
        XCTAssertTrue(prorated.prorated)
        XCTAssertEqual(prorated.missing, 1)
        let incomplete = try scoreAnswers(questionnaire: "phq9", answers: [1, 1, 1, 1, 1, 1, nil, nil, nil])
        XCTAssertNil(incomplete.total)
        XCTAssertNil(incomplete.band)
        XCTAssertNil(incomplete.item9Positive, "item 9 unanswered")
    }

    func testHelpNowRaisesAFlagEveryTime() async throws {
        let journal = try await makeJournal()
        let first = try await journal.helpNow()
        XCTAssertEqual(first.kind, "help_now")
        XCTAssertEqual(first.state, .open)
        XCTAssertNil(first.source)
        XCTAssertNotNil(first.title)
        XCTAssertFalse(first.reason.isEmpty)
        let second = try await journal.helpNow()
        let flags = try await journal.flags()
        XCTAssertEqual(Set(flags.map(\.id)), [first.id, second.id])
        XCTAssertTrue(zip(flags, flags.dropFirst()).allSatisfy { $0.raisedAt >= $1.raisedAt }, "newest first")
    }

    func testFlagSettingsAndRules() async throws {
        let journal = try await makeJournal()
        var settings = try await journal.flagSettings()
        XCTAssertEqual(settings, FlagSettings(noCheckinDays: 7))
        try await journal.setFlagSettings(settings: FlagSettings(noCheckinDays: 14))
        settings = try await journal.flagSettings()
        XCTAssertEqual(settings, FlagSettings(noCheckinDays: 14))
        for bad: Int32 in [-1, 366] {
            await assertInvalid("noCheckinDays", "\(bad)") {
                try await journal.setFlagSettings(settings: FlagSettings(noCheckinDays: bad))
            }
        }
        settings = try await journal.flagSettings()
        XCTAssertEqual(settings, FlagSettings(noCheckinDays: 14))
        let none = try await journal.checkFlags()
        XCTAssertEqual(none, [], "nothing logged, nothing to find")

        let rules = flagRules()
        XCTAssertEqual(rules.map(\.kind), ["item9_positive", "help_now", "sharp_fall", "no_checkins"])
        XCTAssertTrue(rules.allSatisfy { !$0.title.isEmpty && !$0.rule.isEmpty && !$0.source.isEmpty })
    }

    func testNoCheckInsForTheSetDaysRaisesAFlagOnce() async throws {
        let journal = try await makeJournal()
        _ = try await journal.log(entry: moodEntry(5, at: rightNow().shifted(-10 * day)))
        let raised = try await journal.checkFlags()
        XCTAssertEqual(raised.map(\.kind), ["no_checkins"])
        let again = try await journal.checkFlags()
        XCTAssertEqual(again, [], "not again until the patient checks in")
        let flags = try await journal.flags()
        XCTAssertEqual(flags, raised)
    }

    func testCrisisResourcesWorkOffline() async throws {
        let gb = try crisisResources(country: "gb")
        XCTAssertEqual(gb.country, "GB")
        XCTAssertEqual(gb.name, "United Kingdom")
        XCTAssertEqual(gb.emergency, "999")
        let samaritans = try XCTUnwrap(gb.lines.first)
        XCTAssertEqual(samaritans.name, "Samaritans")
        XCTAssertEqual(samaritans.number, "116123")
        XCTAssertTrue(samaritans.how.contains("116 123"), samaritans.how)
        XCTAssertEqual(samaritans.hours, "24/7")
        XCTAssertTrue(samaritans.source.hasPrefix("https://"))
        XCTAssertTrue(gb.emergencyAdvice.contains("999"))
        XCTAssertEqual(gb.reviewed, localDay("2026-12-02"))
        XCTAssertEqual(try crisisResources(country: "UK"), gb)
        XCTAssertEqual(try crisisResources(country: "US").lines.first?.number, "988")

        for bad in ["XX", "G", "GBR", "", "1A"] {
            await assertInvalid("country", bad) { try crisisResources(country: bad) }
        }

        let fallback = try crisisResources(country: nil)
        XCTAssertNil(fallback.country)
        XCTAssertNil(fallback.emergency)
        XCTAssertEqual(fallback.name, "International")
        XCTAssertTrue(fallback.emergencyAdvice.contains("local emergency number"), fallback.emergencyAdvice)
        XCTAssertEqual(fallback.lines, [])
        XCTAssertEqual(try crisisResources(country: "JP"), fallback, "a country not in the table gets the fallback")

        let table = crisisTable()
        XCTAssertGreaterThanOrEqual(table.count, 10)
        XCTAssertTrue(table.allSatisfy { $0.country != nil && $0.emergency != nil })
        XCTAssertEqual(table.compactMap(\.country), table.compactMap(\.country).sorted())
        XCTAssertTrue(table.contains(gb))
    }

    func testTheMonitoringStatementNeverReassures() async throws {
        let alone = try monitoringStatement(facts: MonitoringFacts(enrolled: false, flagsShared: false))
        XCTAssertTrue(alone.notMonitored.contains("not monitored around the clock"), alone.notMonitored)
        XCTAssertTrue(alone.whoSees.contains("not connected to a clinic"), alone.whoSees)
        XCTAssertTrue(alone.inCrisis.contains("local emergency number"), alone.inCrisis)
        XCTAssertEqual(alone.text, [alone.whoSees, alone.review, alone.notMonitored, alone.inCrisis].joined(separator: "\n\n"))

        let enrolled = try monitoringStatement(facts: MonitoringFacts(
            enrolled: true, flagsShared: true, clinic: "Northside Clinic",
            reviewWithin: "within 2 working days", country: "gb"))
        XCTAssertTrue(enrolled.whoSees.contains("Northside Clinic"), enrolled.whoSees)
        XCTAssertTrue(enrolled.review.contains("within 2 working days"), enrolled.review)
        XCTAssertTrue(enrolled.notMonitored.contains("not monitored around the clock"))
        XCTAssertTrue(enrolled.inCrisis.contains("999") && enrolled.inCrisis.contains("Samaritans"), enrolled.inCrisis)

        await assertInvalid("country") {
            try monitoringStatement(facts: MonitoringFacts(enrolled: true, flagsShared: true, country: "XX"))
        }
        await assertInvalid("clinic") {
            try monitoringStatement(facts: MonitoringFacts(
                enrolled: true, flagsShared: true, clinic: String(repeating: "x", count: 101)))
        }
        await assertInvalid("reviewWithin") {
            try monitoringStatement(facts: MonitoringFacts(enrolled: true, flagsShared: true, reviewWithin: "2\ndays"))
        }
    }
}
