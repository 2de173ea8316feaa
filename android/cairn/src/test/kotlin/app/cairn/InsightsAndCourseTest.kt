package app.cairn

import kotlinx.coroutines.runBlocking
import org.junit.Test
import java.time.LocalDate
import java.time.ZoneOffset
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.math.abs
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Issue 10's other calls: the summary and patterns over local days, a
 * treatment course with change against baseline and the post-session
 * routine, the coping plan, prompts, skills and practice, the clinic's
 * settings, the report for the appointment (data and HTML page) and the
 * FHIR Bundle.
 */
class InsightsAndCourseTest : JournalFixture() {
    private val today: LocalDate get() = LocalDate.now(ZoneOffset.UTC)

    private fun near(expected: Double, actual: Double?, what: String) =
        assertTrue(actual != null && abs(expected - actual) < 1e-9, "$what: expected $expected, got $actual")

    @Test
    fun summaryOverLocalDays() = runBlocking<Unit> {
        // Five days; mood on three of them (two ratings on the first).
        journal.log(mood(2.0, at = noonUtc(4).minus(2 * HOUR), zone = UTC))
        journal.log(mood(6.0, at = noonUtc(4), zone = UTC))
        journal.log(mood(7.0, at = noonUtc(2), zone = UTC))
        journal.log(mood(3.0, at = noonUtc(1), zone = UTC))
        val s = journal.insights(today.minusDays(4), today)
        assertEquals(today.minusDays(4), s.from)
        assertEquals(today, s.to)
        assertEquals(5, s.days)
        assertEquals(3, s.checkInDays)
        near(0.6, s.adherence, "adherence")
        assertEquals(2, s.streakDays, "today has none yet: the streak ends yesterday")
        assertEquals(2, s.longestStreakDays)
        val m = s.trackers.single()
        assertEquals(TrackerId("mood"), m.tracker)
        assertEquals(4L, m.entries)
        near((4.0 + 7.0 + 3.0) / 3, m.mean, "the mean of the daily means")
        assertEquals(2.0, m.min)
        assertEquals(7.0, m.max)
        assertEquals(listOf(today.minusDays(4), today.minusDays(2), today.minusDays(1)), m.daily.map { it.start })
        assertEquals(Aggregate(today.minusDays(4), 1, 2, 4.0, 2.0, 6.0), m.daily.first())
        assertNull(m.trend, "fewer than 14 days")

        // The older call stays: plain means over entries.
        near(4.5, journal.summary(EntryQuery()).single().mean, "summary(query)")

        val bad = assertFailsWith<CairnException.InvalidInput> { journal.insights(today, today.minusDays(1)) }
        assertEquals("to", bad.field)
        assertEquals("from", assertFailsWith<CairnException.InvalidInput> {
            journal.insights(LocalDate.of(1969, 12, 31), today)
        }.field)
    }

    /** 30 days of mood, "work" on the days marked W; mood [low] on those days, else 7. */
    private suspend fun logMonth(low: Double) {
        val work = "WNNWNWNNNWWNNWNNWNNNWNWWNNNWNN"
        for ((i, c) in work.withIndex()) {
            val daysAgo = (work.length - 1 - i).toLong()
            val isWork = c == 'W'
            val noise = ((i * 37) % 3 - 1).toDouble() // mood takes whole points
            journal.log(
                mood(
                    (if (isWork) low else 7.0) + if (low == 7.0) 0.0 else noise,
                    at = noonUtc(daysAgo),
                    zone = UTC,
                    tags = if (isWork) listOf(activity("work")) else listOf(),
                ),
            )
        }
    }

    @Test
    fun patternsFindAPlantedEffect() = runBlocking<Unit> {
        logMonth(low = 3.0)
        val p = journal.patterns(today.minusDays(29), today)
        assertEquals(30, p.days)
        assertTrue(p.pairsTested >= 1, "${p.pairsTested}")
        val f = p.findings.first { it.factor == Factor.Tag(TagGroup.ACTIVITY, "work") && it.lagDays == 0 }
        assertEquals(TrackerId("mood"), f.tracker)
        assertEquals(11, f.nWith)
        assertEquals(19, f.nWithout)
        assertTrue(f.meanWith < f.meanWithout - 3, "${f.meanWith} vs ${f.meanWithout}")
        assertTrue(f.pAdjusted < 0.05)
        assertTrue(f.sentence.contains("work"), f.sentence)
    }

    @Test
    fun patternsClaimNothingOnFlatData() = runBlocking<Unit> {
        logMonth(low = 7.0)
        val p = journal.patterns(today.minusDays(29), today)
        assertEquals(listOf(), p.findings)
        assertEquals("to", assertFailsWith<CairnException.InvalidInput> { journal.patterns(today, today.minusDays(1)) }.field)
    }

    @Test
    fun aCourseWithResponseAndRemission() = runBlocking<Unit> {
        val baseline = journal.checkin("phq9", listOf(3, 3, 3, 3, 2, 2, 2, 2, 0), now().minus(20 * DAY), PARIS)
        assertEquals(20, baseline.score.total)
        val reminders = journal.reminders()
        val sessions = listOf(18L, 15L, 12L).map { reminders.recordEvent("infusion", now().minus(it * DAY), PARIS) }
        val later = journal.checkin("phq9", listOf(1, 1, 1, 1, 0, 0, 0, 0, 0), now().minus(5 * DAY), PARIS)
        assertEquals(4, later.score.total)

        val course = journal.course("infusion")
        assertEquals("infusion", course.kind)
        assertEquals(sessions.map { it.id }, course.sessions.map { it.id })
        assertEquals(listOf(1, 2, 3), course.sessions.map { it.number })
        assertEquals(sessions.map { it.at }, course.sessions.map { it.at })
        val change = course.changes.single()
        assertEquals("phq9", change.questionnaire)
        assertEquals("PHQ-9", change.name)
        assertEquals(baseline.entry.id, change.baseline.entry)
        assertEquals(20, change.baseline.total)
        assertEquals("severe", change.baseline.band)
        assertEquals(later.entry.id, change.latest?.entry)
        assertEquals(4, change.latest?.total)
        assertEquals(-16, change.change)
        assertEquals(true, change.response)
        assertEquals(true, change.remission)
        assertEquals(5, change.minimalImportantChange)
        assertTrue(change.changeText!!.startsWith("improved"), change.changeText)
        assertEquals(listOf(CoursePhase.BEFORE, CoursePhase.AFTER), course.scores.map { it.phase })
        assertEquals(listOf(null, 7L), course.scores.map { it.daysSinceSession })
        val held = assertNotNull(course.responseHeld)
        assertEquals(true, held.holding)
        assertEquals(1, held.scoresAfter)
        assertEquals(listOf(change), journal.questionnaireChanges())
        assertEquals(course.sessions, journal.course().sessions, "every kind")
        assertEquals(listOf(), journal.course("ect").sessions)

        val rules = changeRules()
        assertEquals(listOf("phq9", "gad7"), rules.map { it.questionnaire })
        assertEquals(5, rules[0].remissionBelow)
        assertNull(rules[1].remissionBelow)
    }

    @Test
    fun thePostSessionRoutineIsAddedOnce() = runBlocking<Unit> {
        val changes = LinkedBlockingQueue<JournalChange>()
        val subscription = journal.observe(
            object : JournalListener {
                override fun onChange(change: JournalChange) {
                    changes.put(change)
                }

                override fun onClosed() {}
            },
        )
        val routine = postSessionRoutine()
        assertEquals(5, routine.size)
        assertEquals(120, routine[0].afterMinutes)
        assertEquals(ReminderCategory.POST_SESSION, routine[0].category)
        assertEquals(java.time.LocalTime.of(21, 0), routine[1].time)
        assertEquals(0, routine[1].day)

        assertEquals(5, journal.addPostSessionRoutine("infusion", today))
        assertEquals(JournalChange(ChangeTable.REMINDERS, listOf(), false), changes.poll(10, TimeUnit.SECONDS))
        assertEquals(0, journal.addPostSessionRoutine("infusion", today))
        val rules = journal.reminders().list().reminders
        assertEquals(5, rules.size)
        assertEquals(routine.map { it.title }.toSet(), rules.map { it.title }.toSet())
        assertEquals("kind", assertFailsWith<CairnException.InvalidInput> { journal.addPostSessionRoutine("", today) }.field)
        assertNull(changes.poll(200, TimeUnit.MILLISECONDS), "nothing added, nothing heard")
        subscription.cancel()
        subscription.close()
    }

    @Test
    fun copingPlanRoundTrip() = runBlocking<Unit> {
        assertEquals(CopingPlan(listOf(), listOf()), journal.copingPlan())
        val saved = journal.setCopingPlan(
            CopingPlan(
                steps = listOf("  Call Sam ", "Walk round the block"),
                ifThen = listOf(IfThen("I wake at 3 am and can't sleep", "I get up and read for 20 minutes")),
            ),
        )
        assertEquals(listOf("Call Sam", "Walk round the block"), saved.steps, "trimmed")
        assertEquals(saved, journal.copingPlan())

        val refused = listOf(
            "steps" to CopingPlan(steps = listOf(" ")),
            "steps" to CopingPlan(steps = listOf("x".repeat(501))),
            "situation" to CopingPlan(ifThen = listOf(IfThen("a\u0007b", "c"))),
            "action" to CopingPlan(ifThen = listOf(IfThen("a", ""))),
            "plan" to CopingPlan(steps = List(21) { "step $it" }),
        )
        for ((field, plan) in refused) {
            assertEquals(field, assertFailsWith<CairnException.InvalidInput>(field) { journal.setCopingPlan(plan) }.field)
        }
        assertEquals(saved, journal.copingPlan(), "nothing saved")
    }

    @Test
    fun promptsSkillsAndPractice() = runBlocking<Unit> {
        val all = journalingPrompts()
        assertTrue(all.size >= 10)
        assertTrue(all.all { it.text.isNotBlank() && it.id.isNotBlank() })
        val evening = journalingPrompts("evening")
        assertTrue(evening.any { it.`when` == "evening" })
        assertTrue(evening.all { it.`when` == "evening" || it.`when` == "any" })
        assertEquals("when", assertFailsWith<CairnException.InvalidInput> { journalingPrompts("morning") }.field)

        val skills = skills()
        assertEquals(listOf("breathing", "grounding"), skills.map { it.id })
        assertTrue(skills.all { it.steps.isNotEmpty() && it.name.isNotBlank() && it.source.isNotBlank() })

        val at = now().minusSeconds(30)
        val entry = journal.logPractice("breathing", 5, at, PARIS)
        assertEquals(TrackerId("breathing"), entry.tracker)
        assertEquals(Value.Duration(5), entry.value)
        assertEquals(at, entry.at)
        assertEquals(listOf(entry), journal.allEntries())
        assertEquals("skill", assertFailsWith<CairnException.InvalidInput> { journal.logPractice("yoga", 5, at, PARIS) }.field)
        assertEquals("minutes", assertFailsWith<CairnException.InvalidInput> { journal.logPractice("grounding", 0, at, PARIS) }.field)
        assertEquals("minutes", assertFailsWith<CairnException.InvalidInput> { journal.logPractice("grounding", -3, at, PARIS) }.field)
    }

    @Test
    fun clinicSettingsAreEmptyWhenNotEnrolled() = runBlocking<Unit> {
        assertEquals(ClinicSettings(null, null, null), journal.clinicSettings())
    }

    @Test
    fun reportForAPeriod() = runBlocking<Unit> {
        journal.log(mood(4.0, at = noonUtc(3), zone = UTC))
        journal.log(mood(6.0, at = noonUtc(3).plus(HOUR), zone = UTC))
        journal.log(mood(7.0, at = noonUtc(1), zone = UTC))
        journal.checkin("phq9", listOf(1, 1, 1, 1, 1, 1, 1, 1, 0), noonUtc(2), UTC)
        val from = today.minusDays(6)
        val r = journal.report(from, today)
        assertEquals(from, r.from)
        assertEquals(today, r.to)
        assertEquals(UTC, r.zone)
        val m = r.trackers.first()
        assertEquals(TrackerId("mood"), m.tracker)
        assertEquals(
            listOf(DayMean(today.minusDays(3), 5.0, 2), DayMean(today.minusDays(1), 7.0, 1)),
            m.days,
        )
        assertEquals(0.0, m.min)
        assertEquals(10.0, m.max)
        val phq9 = r.questionnaires.single()
        assertEquals(8, phq9.total)
        assertEquals(27, phq9.maxTotal)
        assertEquals("mild", phq9.band)
        assertEquals(false, phq9.item9Positive)
        assertEquals(3, r.checkInDays)
        assertEquals(0, r.skippedRecords)

        val html = journal.reportHtml(from, today)
        assertTrue(html.startsWith("<!DOCTYPE html>") || html.startsWith("<!doctype html>"), html.take(40))
        assertTrue(html.contains("<svg"), "a chart")
        assertFalse(html.contains("<script"), "no scripts")
        assertEquals("to", assertFailsWith<CairnException.InvalidInput> { journal.report(today, from) }.field)
        assertEquals("range", assertFailsWith<CairnException.InvalidInput> { journal.reportHtml(today.minusDays(500), today) }.field)
    }

    @Suppress("UNCHECKED_CAST")
    @Test
    fun fhirBundleOfACheckIn() = runBlocking<Unit> {
        journal.checkin("phq9", listOf(1, 1, 1, 1, 1, 1, 1, 1, 0), now().minusSeconds(60), PARIS)
        journal.log(mood(6.0))
        journal.log(NewEntry(tracker = "journal", value = Value.Text("a private page"), at = now(), zone = PARIS))
        val b = journal.fhirBundle()
        assertEquals(2, b.exported)
        assertEquals(1, b.leftOut, "journal text stays out")
        assertEquals(0, b.skippedRecords)
        val json = Json.parse(b.json) as Map<String, Any?>
        assertEquals("Bundle", json["resourceType"])
        assertEquals("transaction", json["type"])
        val resources = (json["entry"] as List<Map<String, Any?>>).map { it["resource"] as Map<String, Any?> }
        assertEquals(b.resources, resources.size)
        val response = resources.single { it["resourceType"] == "QuestionnaireResponse" }
        assertEquals("completed", response["status"])
        assertNull(response["subject"], "not enrolled: no subject")
        assertFalse(b.json.contains("a private page"))
        assertEquals(b, journal.fhirBundle(), "the same bytes again")

        val withSubject = journal.fhirBundle(subject = "Patient/abc-123")
        val subjects = (Json.parse(withSubject.json) as Map<String, Any?>)["entry"].let { it as List<Map<String, Any?>> }
            .map { ((it["resource"] as Map<String, Any?>)["subject"] as Map<String, Any?>)["reference"] }
        assertEquals(setOf<Any?>("Patient/abc-123"), subjects.toSet())

        val yesterday = journal.fhirBundle(from = today.minusDays(3), to = today.minusDays(2))
        assertEquals(0, yesterday.exported)
        for (bad in listOf("123", "patient/1", "Patient/", "Patient/a b")) {
            assertEquals("subject", assertFailsWith<CairnException.InvalidInput>(bad) { journal.fhirBundle(subject = bad) }.field)
        }
        assertEquals("to", assertFailsWith<CairnException.InvalidInput> { journal.fhirBundle(today, today.minusDays(1)) }.field)
    }
}
