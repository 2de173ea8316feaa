import Cairn
import CairnKit
import Foundation
import XCTest

/// Issue 10's other calls: the summary and patterns over local days, a
/// treatment course with change against baseline and the post-session
/// routine, the coping plan, prompts, skills and practice, the clinic's
/// settings, the report for the appointment (data and HTML page) and the
/// FHIR Bundle.
final class InsightsAndCourseTests: JournalTestCase {
    /// Noon UTC, `daysAgo` days before today (UTC): at most 12 h ahead.
    private func noonUtc(_ daysAgo: Int64) -> Date {
        let today = ms(Date()) / 86_400_000
        return instant(ms: (today - daysAgo) * 86_400_000 + 43_200_000)
    }

    /// The UTC local day `daysAgo` days before today.
    private func dayAgo(_ daysAgo: Int64) -> DateComponents {
        foundationDay(noonUtc(daysAgo), utcZone)
    }

    private func near(_ expected: Double, _ actual: Double?, _ what: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(actual.map { abs($0 - expected) < 1e-9 } ?? false,
                      "\(what): expected \(expected), got \(String(describing: actual))", file: file, line: line)
    }

    private func allEntries(_ journal: Journal) async throws -> [Entry] {
        var out: [Entry] = []
        var after: String? = nil
        repeat {
            let page = try await journal.entries(query: EntryQuery(after: after))
            out += page.entries
            after = page.next
        } while after != nil
        return out
    }

    func testSummaryOverLocalDays() async throws {
        let journal = try await makeJournal()
        // Five days; mood on three of them (two ratings on the first).
        _ = try await journal.log(entry: moodEntry(2, at: noonUtc(4).shifted(-2 * hour), zone: utcZone))
        _ = try await journal.log(entry: moodEntry(6, at: noonUtc(4), zone: utcZone))
        _ = try await journal.log(entry: moodEntry(7, at: noonUtc(2), zone: utcZone))
        _ = try await journal.log(entry: moodEntry(3, at: noonUtc(1), zone: utcZone))
        let s = try await journal.insights(from: dayAgo(4), to: dayAgo(0))
        XCTAssertEqual(s.from, dayAgo(4))
        XCTAssertEqual(s.to, dayAgo(0))
        XCTAssertEqual(s.days, 5)
        XCTAssertEqual(s.checkInDays, 3)
        near(0.6, s.adherence, "adherence")
        XCTAssertEqual(s.streakDays, 2, "today has none yet: the streak ends yesterday")
        XCTAssertEqual(s.longestStreakDays, 2)
        XCTAssertEqual(s.trackers.count, 1)
        let m = try XCTUnwrap(s.trackers.first)
        XCTAssertEqual(m.tracker, TrackerId("mood"))
        XCTAssertEqual(m.entries, 4)
        near((4.0 + 7.0 + 3.0) / 3, m.mean, "the mean of the daily means")
        XCTAssertEqual(m.min, 2)
        XCTAssertEqual(m.max, 7)
        XCTAssertEqual(m.daily.map(\.start), [dayAgo(4), dayAgo(2), dayAgo(1)])
        XCTAssertEqual(m.daily.first, Aggregate(start: dayAgo(4), days: 1, entries: 2, mean: 4, min: 2, max: 6))
        XCTAssertNil(m.trend, "fewer than 14 days")

        // The older call stays: plain means over entries.
        let plain = try await journal.summary(query: EntryQuery())
        near(4.5, plain.first?.mean, "summary(query:)")

        await assertInvalid("to") { try await journal.insights(from: dayAgo(0), to: dayAgo(1)) }
        await assertInvalid("from") { try await journal.insights(from: localDay("1969-12-31"), to: dayAgo(0)) }
    }

    /// 30 days of mood, "work" on the days marked W; mood `low` on those days, else 7.
    private func logMonth(_ journal: Journal, low: Double) async throws {
        let work = Array("WNNWNWNNNWWNNWNNWNNNWNWWNNNWNN")
        for (i, c) in work.enumerated() {
            let isWork = c == "W"
            let noise = low == 7 ? 0 : Double((i * 37) % 3 - 1)  // mood takes whole points
            _ = try await journal.log(entry: moodEntry(
                (isWork ? low : 7) + noise, at: noonUtc(Int64(work.count - 1 - i)), zone: utcZone,
                tags: isWork ? [Tag(group: .activity, label: "work")] : []))
        }
    }

    func testPatternsFindAPlantedEffect() async throws {
        let journal = try await makeJournal()
        try await logMonth(journal, low: 3)
        let p = try await journal.patterns(from: dayAgo(29), to: dayAgo(0))
        XCTAssertEqual(p.days, 30)
        XCTAssertGreaterThanOrEqual(p.pairsTested, 1)
        let f = try XCTUnwrap(p.findings.first { $0.factor == .tag(group: .activity, label: "work") && $0.lagDays == 0 },
                              "\(p.findings)")
        XCTAssertEqual(f.tracker, TrackerId("mood"))
        XCTAssertEqual(f.nWith, 11)
        XCTAssertEqual(f.nWithout, 19)
        XCTAssertLessThan(f.meanWith, f.meanWithout - 3)
        XCTAssertLessThan(f.pAdjusted, 0.05)
        XCTAssertTrue(f.sentence.contains("work"), f.sentence)
    }

    func testPatternsClaimNothingOnFlatData() async throws {
        let journal = try await makeJournal()
        try await logMonth(journal, low: 7)
        let p = try await journal.patterns(from: dayAgo(29), to: dayAgo(0))
        XCTAssertEqual(p.findings, [])
        await assertInvalid("to") { try await journal.patterns(from: dayAgo(0), to: dayAgo(1)) }
    }

    func testACourseWithResponseAndRemission() async throws {
        let journal = try await makeJournal()
        let now = rightNow()
        let baseline = try await journal.checkin(
            questionnaire: "phq9", answers: [3, 3, 3, 3, 2, 2, 2, 2, 0], at: now.shifted(-20 * day), zone: paris)
        XCTAssertEqual(baseline.score.total, 20)
        let reminders = try journal.reminders()
        var sessions: [ReminderEvent] = []
        for ago in [18.0, 15.0, 12.0] {
            sessions.append(try await reminders.recordEvent(kind: "infusion", at: now.shifted(-ago * day), zone: paris))
        }
        let later = try await journal.checkin(
            questionnaire: "phq9", answers: [1, 1, 1, 1, 0, 0, 0, 0, 0], at: now.shifted(-5 * day), zone: paris)
        XCTAssertEqual(later.score.total, 4)

        let course = try await journal.course(kind: "infusion")
        XCTAssertEqual(course.kind, "infusion")
        XCTAssertEqual(course.sessions.map(\.id), sessions.map(\.id))
        XCTAssertEqual(course.sessions.map(\.number), [1, 2, 3])
        XCTAssertEqual(course.sessions.map(\.at), sessions.map(\.at))
        XCTAssertEqual(course.changes.count, 1)
        let change = try XCTUnwrap(course.changes.first)
        XCTAssertEqual(change.questionnaire, "phq9")
        XCTAssertEqual(change.name, "PHQ-9")
        XCTAssertEqual(change.baseline.entry, baseline.entry.id)
        XCTAssertEqual(change.baseline.total, 20)
        XCTAssertEqual(change.baseline.band, "severe")
        XCTAssertEqual(change.latest?.entry, later.entry.id)
        XCTAssertEqual(change.latest?.total, 4)
        XCTAssertEqual(change.change, -16)
        XCTAssertEqual(change.response, true)
        XCTAssertEqual(change.remission, true)
        XCTAssertEqual(change.minimalImportantChange, 5)
        XCTAssertTrue(change.changeText?.hasPrefix("improved") ?? false, "\(String(describing: change.changeText))")
        XCTAssertEqual(course.scores.map(\.phase), [.before, .after])
        XCTAssertEqual(course.scores.map(\.daysSinceSession), [nil, 7])
        let held = try XCTUnwrap(course.responseHeld)
        XCTAssertTrue(held.holding)
        XCTAssertEqual(held.scoresAfter, 1)
        let changes = try await journal.questionnaireChanges()
        XCTAssertEqual(changes, [change])
        let every = try await journal.course()
        XCTAssertEqual(every.sessions, course.sessions, "every kind")
        let none = try await journal.course(kind: "ect")
        XCTAssertEqual(none.sessions, [])

        let rules = changeRules()
        XCTAssertEqual(rules.map(\.questionnaire), ["phq9", "gad7"])
        XCTAssertEqual(rules.first?.remissionBelow, 5)
        XCTAssertNil(rules.last?.remissionBelow)
    }

    func testThePostSessionRoutineIsAddedOnce() async throws {
        let journal = try await makeJournal()
        let changes = journal.changes()
        let routine = postSessionRoutine()
        XCTAssertEqual(routine.count, 5)
        XCTAssertEqual(routine.first?.afterMinutes, 120)
        XCTAssertEqual(routine.first?.category, .postSession)
        XCTAssertEqual(routine[1].time, wallTime("21:00"))
        XCTAssertEqual(routine[1].day, 0)

        let added = try await journal.addPostSessionRoutine(kind: "infusion", start: dayAgo(0))
        XCTAssertEqual(added, 5)
        let again = try await journal.addPostSessionRoutine(kind: "infusion", start: dayAgo(0))
        XCTAssertEqual(again, 0)
        let rules = try await journal.reminders().list().reminders
        XCTAssertEqual(rules.count, 5)
        XCTAssertEqual(Set(rules.compactMap(\.title)), Set(routine.map(\.title)))
        await assertInvalid("kind") { try await journal.addPostSessionRoutine(kind: "", start: self.dayAgo(0)) }
        // One change for the first call; nothing for the call that added none.
        _ = try await journal.helpNow()
        let seen = try await withDeadline(30, "the routine's changes") {
            var seen: [JournalChange] = []
            for await change in changes {
                seen.append(change)
                if change.table == .flags { break }
            }
            return seen
        }
        XCTAssertEqual(seen.map(\.table), [.reminders, .flags])
        XCTAssertEqual(seen.first, JournalChange(table: .reminders, ids: [], deleted: false))
    }

    func testCopingPlanRoundTrip() async throws {
        let journal = try await makeJournal()
        let empty = try await journal.copingPlan()
        XCTAssertEqual(empty, CopingPlan(steps: [], ifThen: []))
        let saved = try await journal.setCopingPlan(plan: CopingPlan(
            steps: ["  Call Sam ", "Walk round the block"],
            ifThen: [IfThen(situation: "I wake at 3 am and can't sleep", action: "I get up and read for 20 minutes")]))
        XCTAssertEqual(saved.steps, ["Call Sam", "Walk round the block"], "trimmed")
        let read = try await journal.copingPlan()
        XCTAssertEqual(read, saved)

        let refused: [(String, CopingPlan)] = [
            ("steps", CopingPlan(steps: [" "])),
            ("steps", CopingPlan(steps: [String(repeating: "x", count: 501)])),
            ("situation", CopingPlan(ifThen: [IfThen(situation: "a\u{7}b", action: "c")])),
            ("action", CopingPlan(ifThen: [IfThen(situation: "a", action: "")])),
            ("plan", CopingPlan(steps: (0..<21).map { "step \($0)" })),
        ]
        for (field, plan) in refused {
            await assertInvalid(field) { try await journal.setCopingPlan(plan: plan) }
        }
        let after = try await journal.copingPlan()
        XCTAssertEqual(after, saved, "nothing saved")
    }

    func testPromptsSkillsAndPractice() async throws {
        let all = try journalingPrompts()
        XCTAssertGreaterThanOrEqual(all.count, 10)
        XCTAssertTrue(all.allSatisfy { !$0.text.isEmpty && !$0.id.isEmpty })
        let evening = try journalingPrompts(when: "evening")
        XCTAssertTrue(evening.contains { $0.when == "evening" })
        XCTAssertTrue(evening.allSatisfy { $0.when == "evening" || $0.when == "any" })
        await assertInvalid("when") { try journalingPrompts(when: "morning") }

        let skills = skills()
        XCTAssertEqual(skills.map(\.id), ["breathing", "grounding"])
        XCTAssertTrue(skills.allSatisfy { !$0.steps.isEmpty && !$0.name.isEmpty && !$0.source.isEmpty })

        let journal = try await makeJournal()
        let at = rightNow().shifted(-30)
        let entry = try await journal.logPractice(skill: "breathing", minutes: 5, at: at, zone: paris)
        XCTAssertEqual(entry.tracker, TrackerId("breathing"))
        XCTAssertEqual(entry.value, .duration(minutes: 5))
        XCTAssertEqual(entry.at, at)
        let entries = try await allEntries(journal)
        XCTAssertEqual(entries, [entry])
        await assertInvalid("skill") { try await journal.logPractice(skill: "yoga", minutes: 5, at: at, zone: paris) }
        await assertInvalid("minutes") { try await journal.logPractice(skill: "grounding", minutes: 0, at: at, zone: paris) }
        await assertInvalid("minutes") { try await journal.logPractice(skill: "grounding", minutes: -3, at: at, zone: paris) }
    }

    func testClinicSettingsAreEmptyWhenNotEnrolled() async throws {
        let journal = try await makeJournal()
        let settings = try await journal.clinicSettings()
        XCTAssertEqual(settings, ClinicSettings(clinicName: nil, reviewWithin: nil, noCheckinDays: nil))
    }

    func testReportForAPeriod() async throws {
        let journal = try await makeJournal()
        _ = try await journal.log(entry: moodEntry(4, at: noonUtc(3), zone: utcZone))
        _ = try await journal.log(entry: moodEntry(6, at: noonUtc(3).shifted(hour), zone: utcZone))
        _ = try await journal.log(entry: moodEntry(7, at: noonUtc(1), zone: utcZone))
        _ = try await journal.checkin(questionnaire: "phq9", answers: [1, 1, 1, 1, 1, 1, 1, 1, 0], at: noonUtc(2), zone: utcZone)
        let r = try await journal.report(from: dayAgo(6), to: dayAgo(0))
        XCTAssertEqual(r.from, dayAgo(6))
        XCTAssertEqual(r.to, dayAgo(0))
        XCTAssertEqual(r.zone.secondsFromGMT(), 0, "UTC (Foundation on Linux names it GMT)")
        let m = try XCTUnwrap(r.trackers.first)
        XCTAssertEqual(m.tracker, TrackerId("mood"))
        XCTAssertEqual(m.days, [DayMean(date: dayAgo(3), mean: 5, ratings: 2), DayMean(date: dayAgo(1), mean: 7, ratings: 1)])
        XCTAssertEqual(m.min, 0)
        XCTAssertEqual(m.max, 10)
        XCTAssertEqual(r.questionnaires.count, 1)
        let phq9 = try XCTUnwrap(r.questionnaires.first)
        XCTAssertEqual(phq9.total, 8)
        XCTAssertEqual(phq9.maxTotal, 27)
        XCTAssertEqual(phq9.band, "mild")
        XCTAssertEqual(phq9.item9Positive, false)
        XCTAssertEqual(r.checkInDays, 3)
        XCTAssertEqual(r.skippedRecords, 0)

        let html = try await journal.reportHtml(from: dayAgo(6), to: dayAgo(0))
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"), String(html.prefix(40)))
        XCTAssertTrue(html.contains("<svg"), "a chart")
        XCTAssertFalse(html.contains("<script"), "no scripts")
        await assertInvalid("to") { try await journal.report(from: self.dayAgo(0), to: self.dayAgo(6)) }
        await assertInvalid("range") { try await journal.reportHtml(from: self.dayAgo(500), to: self.dayAgo(0)) }
    }

    private func resources(_ json: String) throws -> [[String: Any]] {
        let bundle = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let entries = try XCTUnwrap(bundle["entry"] as? [[String: Any]])
        return try entries.map { try XCTUnwrap($0["resource"] as? [String: Any]) }
    }

    func testFhirBundleOfACheckIn() async throws {
        let journal = try await makeJournal()
        _ = try await journal.checkin(
            questionnaire: "phq9", answers: [1, 1, 1, 1, 1, 1, 1, 1, 0], at: rightNow().shifted(-60), zone: paris)
        _ = try await journal.log(entry: moodEntry(6))
        _ = try await journal.log(entry: NewEntry(tracker: "journal", value: .text(text: "a private page"), at: rightNow(), zone: paris))
        let b = try await journal.fhirBundle()
        XCTAssertEqual(b.exported, 2)
        XCTAssertEqual(b.leftOut, 1, "journal text stays out")
        XCTAssertEqual(b.skippedRecords, 0)
        let bundle = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(b.json.utf8)) as? [String: Any])
        XCTAssertEqual(bundle["resourceType"] as? String, "Bundle")
        XCTAssertEqual(bundle["type"] as? String, "transaction")
        let all = try resources(b.json)
        XCTAssertEqual(all.count, Int(b.resources))
        let responses = all.filter { $0["resourceType"] as? String == "QuestionnaireResponse" }
        XCTAssertEqual(responses.count, 1)
        XCTAssertEqual(responses.first?["status"] as? String, "completed")
        XCTAssertNil(responses.first?["subject"], "not enrolled: no subject")
        XCTAssertFalse(b.json.contains("a private page"))
        let again = try await journal.fhirBundle()
        XCTAssertEqual(again, b, "the same bytes again")

        let withSubject = try await journal.fhirBundle(subject: "Patient/abc-123")
        let subjects = try resources(withSubject.json).map { ($0["subject"] as? [String: Any])?["reference"] as? String }
        XCTAssertEqual(Set(subjects), ["Patient/abc-123"])

        let earlier = try await journal.fhirBundle(from: dayAgo(3), to: dayAgo(2))
        XCTAssertEqual(earlier.exported, 0)
        for bad in ["123", "patient/1", "Patient/", "Patient/a b"] {
            await assertInvalid("subject", bad) { try await journal.fhirBundle(subject: bad) }
        }
        await assertInvalid("to") { try await journal.fhirBundle(from: self.dayAgo(0), to: self.dayAgo(1)) }
    }
}
