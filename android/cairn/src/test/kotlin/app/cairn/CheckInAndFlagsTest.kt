package app.cairn

import kotlinx.coroutines.runBlocking
import org.junit.Test
import java.time.LocalDate
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Questionnaires rendered from the reviewed table, check-ins and the flags
 * they raise, help now, the flag settings and rules, and the crisis
 * resources and monitoring statement (free functions, no journal).
 */
class CheckInAndFlagsTest : JournalFixture() {
    @Test
    fun phq9RendersFromTheTable() {
        val all = questionnaires()
        assertEquals(listOf("phq9", "phq2", "gad7", "gad2"), all.map { it.id })
        val phq9 = all.first { it.id == "phq9" }
        assertEquals("PHQ-9", phq9.name)
        assertTrue(phq9.prompt.startsWith("Over the last 2 weeks"), phq9.prompt)
        assertEquals(10, phq9.items.size)
        assertTrue(phq9.items.all { it.options.size == 4 })
        assertEquals(listOf(0, 1, 2, 3), phq9.items[0].options.map { it.value })
        assertEquals(AnswerOption(0, "Not at all", "LA6568-5"), phq9.items[0].options[0])
        assertEquals("44260-8", phq9.items[8].loinc)
        assertTrue(phq9.items[8].text.contains("better off dead"))
        assertEquals(List(9) { true } + false, phq9.items.map { it.scored }, "item 10 (difficulty) is not scored")
        assertEquals(9, phq9.riskItem)
        assertEquals(2, phq9.maxMissing)
        assertNull(phq9.positiveAt)
        assertEquals("44249-1", phq9.panelLoinc)
        assertEquals("44261-6", phq9.totalLoinc)
        assertEquals(listOf("minimal", "mild", "moderate", "moderately severe", "severe"), phq9.bands.map { it.name })
        assertEquals(ScoreBand(20, 27, "severe"), phq9.bands.last())
        assertTrue(phq9.source.contains("Kroenke"))
        val phq2 = all.first { it.id == "phq2" }
        assertEquals(3, phq2.positiveAt)
        assertEquals(phq9.items.take(2), phq2.items)
    }

    @Test
    fun aPhq9WithItem9PositiveRaisesAnOpenFlag() = runBlocking<Unit> {
        val changes = LinkedBlockingQueue<JournalChange>()
        val subscription = journal.observe(
            object : JournalListener {
                override fun onChange(change: JournalChange) {
                    changes.put(change)
                }

                override fun onClosed() {}
            },
        )
        val answers = listOf(1, 1, 1, 1, 1, 1, 1, 1, 2)
        val at = now().minusSeconds(60)
        val checkIn = journal.checkin("phq9", answers, at, PARIS)

        assertEquals(10, checkIn.score.total)
        assertEquals("moderate", checkIn.score.band)
        assertEquals(true, checkIn.score.item9Positive)
        assertEquals(2, checkIn.score.riskAnswer)
        assertEquals(9, checkIn.score.answered)
        assertEquals(0, checkIn.score.missing)
        assertEquals(false, checkIn.score.prorated)
        assertEquals(checkIn.score, scoreAnswers("PHQ-9", answers), "scored alike without saving")

        assertEquals(TrackerId("phq9"), checkIn.entry.tracker)
        assertEquals(at, checkIn.entry.at)
        assertEquals(Value.Answers(1, answers + null), checkIn.entry.value, "one answer per item: the difficulty item left off")
        assertEquals(checkIn.entry, journal.entry(checkIn.entry.id))

        val flag = checkIn.flags.single()
        assertEquals("item9_positive", flag.kind)
        assertEquals("PHQ-9 item 9 positive", flag.title)
        assertEquals(FlagState.OPEN, flag.state)
        assertEquals(checkIn.entry.id, flag.source)
        assertNull(flag.acknowledgedAt)
        assertNull(flag.acknowledgedBy)
        assertTrue(flag.reason.contains("More than half the days"), flag.reason)
        assertTrue(flag.id.value.matches(Regex("[0-9a-f]{32}")), flag.id.value)
        assertEquals(listOf(flag), journal.flags())

        // Listeners hear the entry and the flag, in that order.
        assertEquals(JournalChange(ChangeTable.ENTRIES, listOf(checkIn.entry.id.value), false), changes.poll(10, TimeUnit.SECONDS))
        assertEquals(JournalChange(ChangeTable.FLAGS, listOf(flag.id.value), false), changes.poll(10, TimeUnit.SECONDS))

        // A PHQ-9 with item 9 at 0 raises none; its total stands alone.
        val calm = journal.checkin("phq9", listOf(0, 0, 0, 0, 0, 0, 0, 0, 0, 1), now(), PARIS)
        assertEquals(0, calm.score.total)
        assertEquals("minimal", calm.score.band)
        assertEquals(false, calm.score.item9Positive)
        assertEquals(listOf(), calm.flags)
        assertEquals(listOf(flag), journal.flags())
        subscription.cancel()
        subscription.close()
    }

    @Test
    fun wrongAnswersAreInvalidInputAndSaveNothing() = runBlocking<Unit> {
        val nine = List<Int?>(9) { 0 }
        val refused = listOf(
            "8 answers" to ("phq9" to List<Int?>(8) { 0 }),
            "11 answers" to ("phq9" to List<Int?>(11) { 0 }),
            "no answers" to ("gad7" to listOf()),
            "answer 4" to ("phq9" to nine.take(8) + 4),
            "answer -1" to ("phq9" to listOf<Int?>(-1) + nine.drop(1)),
            "answer 256" to ("phq9" to listOf<Int?>(256) + nine.drop(1)),
            "3 answers to PHQ-2" to ("phq2" to listOf<Int?>(0, 0, 0)),
        )
        for ((what, call) in refused) {
            val (q, answers) = call
            val e = assertFailsWith<CairnException.InvalidInput>(what) { journal.checkin(q, answers, now(), PARIS) }
            assertEquals("answers", e.field, what)
            assertFailsWith<CairnException.InvalidInput>(what) { scoreAnswers(q, answers) }
        }
        val unknown = assertFailsWith<CairnException.InvalidInput> { journal.checkin("phq8", nine, now(), PARIS) }
        assertEquals("questionnaire", unknown.field)
        assertEquals("at", assertFailsWith<CairnException.InvalidInput> {
            journal.checkin("phq9", nine, java.time.Instant.parse("1969-12-31T00:00:00Z"), PARIS)
        }.field)
        assertFailsWith<CairnException.UnknownZone> { journal.checkin("phq9", nine, now(), MARS) }
        assertEquals(listOf(), journal.allEntries())
        assertEquals(listOf(), journal.flags())

        // Unanswered items within the limit are prorated; beyond it, no total.
        val prorated = scoreAnswers("phq9", listOf(1, 1, 1, 1, 1, 1, 1, null, 1))
        assertEquals(9, prorated.total)
        assertEquals(true, prorated.prorated)
        assertEquals(1, prorated.missing)
        val incomplete = scoreAnswers("phq9", listOf(1, 1, 1, 1, 1, 1, null, null, null))
        assertNull(incomplete.total)
        assertNull(incomplete.band)
        assertNull(incomplete.item9Positive, "item 9 unanswered")
    }

    @Test
    fun helpNowRaisesAFlagEveryTime() = runBlocking<Unit> {
        val first = journal.helpNow()
        assertEquals("help_now", first.kind)
        assertEquals(FlagState.OPEN, first.state)
        assertNull(first.source)
        assertNotNull(first.title)
        assertTrue(first.reason.isNotBlank())
        val second = journal.helpNow()
        assertEquals(2, journal.flags().size)
        assertEquals(setOf(first.id, second.id), journal.flags().map { it.id }.toSet())
        assertTrue(journal.flags().zipWithNext().all { (a, b) -> a.raisedAt >= b.raisedAt }, "newest first")
    }

    @Test
    fun flagSettingsAndRules() = runBlocking<Unit> {
        assertEquals(FlagSettings(7), journal.flagSettings())
        journal.setFlagSettings(FlagSettings(14))
        assertEquals(FlagSettings(14), journal.flagSettings())
        journal.setFlagSettings(FlagSettings(0))
        assertEquals(FlagSettings(0), journal.flagSettings())
        for (bad in listOf(-1, 366)) {
            val e = assertFailsWith<CairnException.InvalidInput>("$bad") { journal.setFlagSettings(FlagSettings(bad)) }
            assertEquals("noCheckinDays", e.field)
        }
        assertEquals(FlagSettings(0), journal.flagSettings())
        // Nothing logged, nothing to find.
        assertEquals(listOf(), journal.checkFlags())

        val rules = flagRules()
        assertEquals(listOf("item9_positive", "help_now", "sharp_fall", "no_checkins"), rules.map { it.kind })
        assertTrue(rules.all { it.title.isNotBlank() && it.rule.isNotBlank() && it.source.isNotBlank() })
    }

    @Test
    fun noCheckInsForTheSetDaysRaisesAFlagOnce() = runBlocking<Unit> {
        journal.log(mood(5.0, at = now().minus(10 * DAY)))
        val raised = journal.checkFlags()
        assertEquals(listOf("no_checkins"), raised.map { it.kind })
        assertEquals(listOf(), journal.checkFlags(), "not again until the patient checks in")
        assertEquals(raised, journal.flags())
    }

    @Test
    fun crisisResourcesWorkOffline() {
        val gb = crisisResources("gb")
        assertEquals("GB", gb.country)
        assertEquals("United Kingdom", gb.name)
        assertEquals("999", gb.emergency)
        val samaritans = gb.lines.first()
        assertEquals("Samaritans", samaritans.name)
        assertEquals("116123", samaritans.number)
        assertTrue(samaritans.how.contains("116 123"), samaritans.how)
        assertEquals("24/7", samaritans.hours)
        assertTrue(samaritans.source.startsWith("https://"))
        assertTrue(gb.emergencyAdvice.contains("999"))
        assertEquals(LocalDate.of(2026, 12, 2), gb.reviewed)
        assertEquals(gb, crisisResources("UK"))
        assertEquals("988", crisisResources("US").lines.first().number)

        for (bad in listOf("XX", "G", "GBR", "", "1A")) {
            val e = assertFailsWith<CairnException.InvalidInput>(bad) { crisisResources(bad) }
            assertEquals("country", e.field)
        }

        val fallback = crisisResources(null)
        assertNull(fallback.country)
        assertNull(fallback.emergency)
        assertEquals("International", fallback.name)
        assertTrue(fallback.emergencyAdvice.contains("local emergency number"), fallback.emergencyAdvice)
        assertEquals(listOf(), fallback.lines)
        assertEquals(fallback, crisisResources("JP"), "a country not in the table gets the fallback")

        val table = crisisTable()
        assertTrue(table.size >= 10)
        assertTrue(table.all { it.country != null && it.emergency != null })
        assertEquals(table.map { it.country }.sortedBy { it }, table.map { it.country })
        assertTrue(gb in table)
    }

    @Test
    fun theMonitoringStatementNeverReassures() {
        val alone = monitoringStatement(MonitoringFacts(enrolled = false, flagsShared = false))
        assertTrue(alone.notMonitored.contains("not monitored around the clock"), alone.notMonitored)
        assertTrue(alone.whoSees.contains("not connected to a clinic"), alone.whoSees)
        assertTrue(alone.inCrisis.contains("local emergency number"), alone.inCrisis)
        assertEquals(listOf(alone.whoSees, alone.review, alone.notMonitored, alone.inCrisis).joinToString("\n\n"), alone.text)

        val enrolled = monitoringStatement(
            MonitoringFacts(enrolled = true, flagsShared = true, clinic = "Northside Clinic", reviewWithin = "within 2 working days", country = "gb"),
        )
        assertTrue(enrolled.whoSees.contains("Northside Clinic"), enrolled.whoSees)
        assertTrue(enrolled.review.contains("within 2 working days"), enrolled.review)
        assertTrue(enrolled.notMonitored.contains("not monitored around the clock"))
        assertTrue(enrolled.inCrisis.contains("999") && enrolled.inCrisis.contains("Samaritans"), enrolled.inCrisis)

        assertEquals("country", assertFailsWith<CairnException.InvalidInput> {
            monitoringStatement(MonitoringFacts(enrolled = true, flagsShared = true, country = "XX"))
        }.field)
        assertEquals("clinic", assertFailsWith<CairnException.InvalidInput> {
            monitoringStatement(MonitoringFacts(enrolled = true, flagsShared = true, clinic = "x".repeat(101)))
        }.field)
        assertEquals("reviewWithin", assertFailsWith<CairnException.InvalidInput> {
            monitoringStatement(MonitoringFacts(enrolled = true, flagsShared = true, reviewWithin = "2\ndays"))
        }.field)
    }
}
