package app.cairn

import app.cairn.android.AlarmBackend
import app.cairn.android.AlarmRequest
import app.cairn.android.HeldAlarmStore
import app.cairn.android.HeldAlarms
import app.cairn.android.ReminderPlanApplier
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Before
import org.junit.Test
import java.io.File
import java.time.Instant
import java.time.LocalTime
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * What an app sees when its journal file was edited without the key
 * (`testingTamper`, testing builds only): the damaged record is named in
 * `corrupted` and every good one keeps working. And instants and sizes
 * outside what the API accepts, from Kotlin's extremes: a typed
 * `InvalidInput`, with the journal usable afterwards.
 */
class DamageAndBoundsTest {
    /** Stands in for AlarmManager: the alarms it holds, by id. */
    private class FakeAlarms : AlarmBackend {
        val set = linkedMapOf<String, AlarmRequest>()
        override fun exactAlarmsAllowed() = true
        override fun schedule(alarm: AlarmRequest) {
            set[alarm.id] = alarm
        }
        override fun cancel(id: String) {
            set.remove(id)
        }
    }

    private class MemoryStore : HeldAlarmStore {
        var held = HeldAlarms.NONE
        override fun load() = held
        override fun save(held: HeldAlarms) {
            this.held = held
        }
    }

    private val zone = PARIS
    private val hows = listOf("flip_body", "bump_revision", "set_deleted")
    private lateinit var tmp: TempFolder

    @Before
    fun setUp() {
        tmp = TempFolder()
    }

    @After
    fun tearDown() {
        tmp.delete()
    }

    private fun at(local: String) = local(local, zone)

    /** A journal file that is closed, tampered with, and opened again. */
    private class JournalFile(val path: String) {
        val key = generateKey()
        var journal: Journal = runBlocking { Journal.create(path, key) }
        var reminders: Reminders = journal.reminders()

        suspend fun close() {
            reminders.close()
            journal.closeJournal()
            journal.close()
        }

        /** Edits the closed file as someone holding it but not the key would. */
        suspend fun tamper(table: String, id: String, how: String) {
            close()
            testingTamper(path, table, id, how)
            journal = Journal.open(path, key)
            reminders = journal.reminders()
        }
    }

    // --- reminders: rules, events, reports, settings ----------------------------

    private val now get() = at("2026-05-10T08:00")
    private val since get() = at("2026-05-01T00:00")

    /** What the reminder cases are built from, in a fresh journal. */
    private inner class Reminded(name: String) {
        val store = JournalFile(tmp.path(name))
        val r get() = store.reminders
        val morning = runBlocking { r.add(daily("09:00", start = "2026-05-01", title = "Lithium", category = ReminderCategory.MEDICATION)) }
        val noon = runBlocking { r.add(daily("13:00", start = "2026-05-01")) }
        // Inside the quiet hours: deferred to their end.
        val late = runBlocking { r.add(daily("23:30", start = "2026-05-01", category = ReminderCategory.JOURNALING)) }
        val session = runBlocking {
            r.add(
                NewReminder(
                    category = ReminderCategory.POST_SESSION,
                    schedule = ReminderSchedule.AfterEvent(
                        "infusion",
                        listOf(ReminderStep.DayAt(1, time("10:00")), ReminderStep.DayAt(2, time("10:00"))),
                    ),
                    start = day("2026-05-01"),
                ),
            )
        }
        val event = runBlocking { r.recordEvent("infusion", at("2026-05-09T20:00"), zone) }
        val dailies = listOf(morning, noon, late)

        init {
            runBlocking {
                r.setQuietHours(QuietHours(time("23:00"), time("07:00")))
                // Yesterday's 09:00 dose, reported done: one row in reminder_log.
                val dose = r.occurrences(at("2026-05-09T00:00"), at("2026-05-10T00:00"), zone).single { it.reminderId == morning.id }
                r.report(dose.key, dose.fireAt, ReminderReport.Done(dose.fireAt + 5 * MINUTE))

                // Before any damage: nothing corrupted, every rule planned.
                val plan = plan()
                assertEquals(listOf(), plan.corrupted)
                assertEquals(setOf(morning.id, noon.id, late.id, session.id), plan.notifications.map { it.reminderId }.toSet())
                assertEquals(1, adherence().rules.single { it.key == morning.id.value }.done)
            }
        }

        suspend fun plan() = r.plan(now, zone, androidLimits(true), 3)
        suspend fun adherence() = r.adherence(since, now, now, zone)

        /**
         * The id of the one occurrence report, which the API never shows:
         * the 32-hex strings in the (checkpointed) file that are no other
         * record's id, tampered with until one turns out to be a report.
         */
        suspend fun tamperReport(how: String): String {
            store.close()
            val known = setOf(morning.id.value, noon.id.value, late.id.value, session.id.value, event.id.value)
            val text = listOf(store.path, "${store.path}-wal").map(::File).filter { it.exists() }
                .joinToString("\n") { String(it.readBytes(), Charsets.ISO_8859_1) }
            val candidates = Regex("(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])").findAll(text).map { it.value }.toSet() - known
            val hit = candidates.filter { id ->
                try {
                    testingTamper(store.path, "reminder_log", id, how)
                    true
                } catch (e: CairnException.InvalidInput) {
                    false // no such report
                }
            }
            assertEquals(1, hit.size, "one report row, found among ${candidates.size} candidates")
            store.journal = Journal.open(store.path, store.key)
            store.reminders = store.journal.reminders()
            return hit.single()
        }
    }

    /** One damaged record among good ones, seen through every reminders call an app makes. */
    private suspend fun assertConfined(c: Reminded, table: String, id: String, how: String) {
        val what = "$table $how"
        val expected = listOf(RecordRef(table, id))
        val r = c.r

        // The plan: every good rule still planned, the damaged record named.
        val plan = c.plan()
        assertEquals(expected, plan.corrupted, what)
        val byRule = plan.notifications.groupBy { it.reminderId }
        for (rule in c.dailies) {
            if (table == "reminders" && rule.id.value == id) {
                assertNull(byRule[rule.id], "$what: the damaged rule plans nothing")
            } else {
                assertEquals(3, byRule[rule.id]?.size, "$what: ${rule.schedule}")
            }
        }
        if (table == "reminder_events") {
            assertNull(byRule[c.session.id], "$what: its only event is unreadable")
        } else {
            assertEquals(
                listOf(at("2026-05-10T10:00"), at("2026-05-11T10:00")),
                byRule.getValue(c.session.id).map { it.fireAt },
                what,
            )
        }
        val lateTimes = byRule.getValue(c.late.id).map { localTime(it.fireAt, zone) }.toSet()
        if (table == "settings") {
            assertEquals(setOf(LocalTime.of(23, 30)), lateTimes, "$what: damaged quiet hours read as none")
            assertFailsWith<CairnException.Corrupted>(what) { r.quietHours() }
        } else {
            assertEquals(setOf(LocalTime.of(7, 0)), lateTimes, "$what: deferred to the end of the quiet hours")
            assertEquals(QuietHours(time("23:00"), time("07:00")), r.quietHours(), what)
        }

        // The list reads rules only.
        val list = r.list()
        val allRules = listOf(c.morning.id, c.noon.id, c.late.id, c.session.id).map { it.value }
        if (table == "reminders") {
            assertEquals(expected, list.corrupted, what)
            assertEquals(allRules - id, list.reminders.map { it.id.value }, what)
            val e = assertFailsWith<CairnException.Corrupted>(what) { r.get(ReminderId(id)) }
            assertEquals("reminders" to id, e.table to e.id, what)
        } else {
            assertEquals(listOf(), list.corrupted, what)
            assertEquals(allRules, list.reminders.map { it.id.value }, what)
        }

        // Adherence reads rules, events and reports (not the quiet hours).
        val adherence = c.adherence()
        assertEquals(if (table == "settings") listOf() else expected, adherence.corrupted, what)
        val ruleKeys = adherence.rules.map { it.key }
        assertEquals(if (table == "reminders") allRules - id else allRules, ruleKeys, what)
        val morningDone = adherence.rules.single { it.key == c.morning.id.value }.done
        assertEquals(if (table == "reminder_log") 0 else 1, morningDone, "$what: the done report")

        if (table == "reminder_events") {
            assertEquals(listOf(), r.events(), "$what: events() skips it")
        }

        // The Android applier sets the good rules' alarms and passes the damage on.
        val alarms = FakeAlarms()
        val held = MemoryStore()
        val applied = ReminderPlanApplier(r, alarms, held, horizonDays = 3).applyPlan(zone, now)
        assertEquals(expected, applied.corrupted, what)
        val alarmed = alarms.set.values.map { it.notification.reminderId }.toSet()
        assertEquals(plan.notifications.map { it.reminderId }.toSet(), alarmed, what)
        assertEquals(alarms.set.keys, held.held.ids, what)
        assertTrue(alarms.set.isNotEmpty(), what)

        assertTrue(c.store.journal.integrityCheck(), what)
    }

    @Test
    fun aDamagedRuleIsNamedAndTheOthersStillPlan() = runBlocking<Unit> {
        for (how in hows) {
            val c = Reminded("rule-$how.cairn")
            try {
                c.store.tamper("reminders", c.noon.id.value, how)
                assertConfined(c, "reminders", c.noon.id.value, how)
            } finally {
                c.store.close()
            }
        }
    }

    @Test
    fun aDamagedEventIsNamedAndEveryRuleStillPlans() = runBlocking<Unit> {
        for (how in hows) {
            val c = Reminded("event-$how.cairn")
            try {
                c.store.tamper("reminder_events", c.event.id.value, how)
                assertConfined(c, "reminder_events", c.event.id.value, how)
            } finally {
                c.store.close()
            }
        }
    }

    @Test
    fun damagedQuietHoursAreNamedAndReadAsNone() = runBlocking<Unit> {
        for (how in hows) {
            val c = Reminded("settings-$how.cairn")
            try {
                c.store.tamper("settings", "quiet_hours", how)
                assertConfined(c, "settings", "quiet_hours", how)
            } finally {
                c.store.close()
            }
        }
    }

    @Test
    fun aDamagedOccurrenceReportIsNamed() = runBlocking<Unit> {
        // `set_deleted` is left out: reports are read by day and a flagged
        // row leaves the day index, so it reads as a report never made
        // (docs/security.md, "What per-record binding cannot see").
        for (how in listOf("flip_body", "bump_revision")) {
            val c = Reminded("log-$how.cairn")
            try {
                val id = c.tamperReport(how)
                assertConfined(c, "reminder_log", id, how)
            } finally {
                c.store.close()
            }
        }
    }

    // --- entries ------------------------------------------------------------------

    @Test
    fun aDamagedEntryThrowsCorruptedAndTheListGoesOn() = runBlocking<Unit> {
        for (how in hows) {
            val s = JournalFile(tmp.path("entries-$how.cairn"))
            try {
                val logged = (1L..3L).map { s.journal.log(mood(it.toDouble(), at = noonUtc(it))) }
                val bad = logged[1]
                s.tamper("entries", bad.id.value, how)

                val e = assertFailsWith<CairnException.Corrupted>(how) { s.journal.entry(bad.id) }
                assertEquals("entries" to bad.id.value, e.table to e.id, how)
                assertTrue(e.message.contains(bad.id.value), "$how: ${e.message}")
                for (good in logged - bad) assertEquals(good, s.journal.entry(good.id), how)

                val page = s.journal.entries(EntryQuery())
                assertEquals((logged - bad).map { it.id.value }.sorted(), page.entries.map { it.id.value }.sorted(), how)
                if (how == "set_deleted") {
                    // Listings skip tombstones without opening them: a forged
                    // one reads, in a list, as a deletion (docs/security.md);
                    // reading it by id (above) and sync verify it.
                    assertEquals(listOf(), page.corrupted, how)
                } else {
                    assertEquals(listOf(RecordRef("entries", bad.id.value)), page.corrupted, how)
                }
                // Writing goes on.
                val more = s.journal.log(mood(9.0))
                assertEquals(more, s.journal.entry(more.id))
                assertTrue(s.journal.integrityCheck())
            } finally {
                s.close()
            }
        }
    }

    // --- bounds -------------------------------------------------------------------

    /**
     * java.time's extremes, a second before 1970 and the first instant after
     * 2199. (The last second before 1970 is TypedValuesTest's.)
     */
    private val outside = listOf(Instant.MIN, Instant.EPOCH.minusSeconds(1), Instant.MAX, Instant.ofEpochMilli(LAST_MS + 1))

    @Test
    fun everyInstantOutsideTheCalendarIsInvalidInput() = runBlocking<Unit> {
        val s = JournalFile(tmp.path())
        try {
            val r = s.reminders
            val journal = s.journal
            val rule = r.add(daily("09:00", start = "2026-05-01"))
            val first = journal.log(mood(5.0, at = noonUtc(1)))
            r.recordEvent("infusion", at("2026-05-09T20:00"), zone)
            val limits = androidLimits(true)
            val due = r.plan(now, zone, limits, 3).notifications.first()
            // Each call with the field it names when refused.
            val refused: List<Triple<String, Set<String>, suspend (Instant) -> Any?>> = listOf(
                Triple("log", setOf("at")) { t -> journal.log(mood(5.0, at = t)) },
                Triple("recordEvent", setOf("at")) { t -> r.recordEvent("infusion", t, zone) },
                Triple("report", setOf("due")) { t -> r.report(due.occurrence, t, ReminderReport.Shown(due.due)) },
                Triple("report Shown", setOf("at")) { t -> r.report(due.occurrence, due.due, ReminderReport.Shown(t)) },
                Triple("report Done", setOf("at")) { t -> r.report(due.occurrence, due.due, ReminderReport.Done(t)) },
                Triple("report Skipped", setOf("at")) { t -> r.report(due.occurrence, due.due, ReminderReport.Skipped(t)) },
                // Named `until` (its Kotlin property) when past what an Instant
                // in milliseconds holds, `snooze` when outside 1970-2199.
                Triple("report Snoozed", setOf("until", "snooze")) { t -> r.report(due.occurrence, due.due, ReminderReport.Snoozed(t)) },
                Triple("plan", setOf("now")) { t -> r.plan(t, zone, limits, 3) },
                Triple("occurrences", setOf("from")) { t -> r.occurrences(t, now, zone) },
                Triple("occurrences", setOf("to")) { t -> r.occurrences(now, t, zone) },
                // From after 2199 is also after `to`: refused as `to` before `from`.
                Triple("adherence", setOf("from", "to")) { t -> r.adherence(t, now, now, zone) },
                Triple("adherence", setOf("to")) { t -> r.adherence(since, t, now, zone) },
                Triple("adherence", setOf("now")) { t -> r.adherence(since, now, t, zone) },
            )
            for ((what, fields, call) in refused) {
                for (t in outside) {
                    val e = assertFailsWith<CairnException.InvalidInput>("$what $fields = $t") { call(t) }
                    assertTrue(e.field in fields, "$what = $t: ${e.field}")
                }
            }
            // The calendar's own edges are accepted.
            val last = Instant.ofEpochMilli(LAST_MS)
            r.occurrences(Instant.EPOCH, Instant.EPOCH + 400 * DAY, zone)
            r.occurrences(last - 400 * DAY, last, zone)
            r.plan(last, zone, limits, 3)
            r.adherence(now - 400 * DAY, last, now, zone)

            // Nothing was written, and everything still works.
            assertEquals(listOf(first), journal.allEntries())
            assertEquals(1, r.events().size)
            val plan = r.plan(now, zone, limits, 3)
            assertEquals(listOf(), plan.corrupted)
            assertTrue(due in plan.notifications, "no report was recorded")
            assertEquals(0, r.adherence(since, now, now, zone).rules.single { it.key == rule.id.value }.shown)
            r.report(due.occurrence, due.due, ReminderReport.Done(now))
            assertTrue(due.id !in r.plan(now, zone, limits, 3).notifications.map { it.id })
            journal.log(mood(6.0))
            assertEquals(2, journal.allEntries().size)
            assertTrue(journal.integrityCheck())
        } finally {
            s.close()
        }
    }

    @Test
    fun rangesLongerThan400DaysAreInvalidInput() = runBlocking<Unit> {
        val s = JournalFile(tmp.path())
        try {
            val r = s.reminders
            val rule = r.add(daily("09:00", start = "2026-01-01"))
            val from = at("2026-01-01T00:00")
            val days400 = from + 400 * DAY
            assertEquals(400, r.occurrences(from, days400, zone).size)
            assertFailsWith<CairnException.InvalidInput> { r.occurrences(from, days400 + DAY, zone) }
            assertFailsWith<CairnException.InvalidInput> { r.occurrences(from, days400.plusMillis(1), zone) }
            assertFailsWith<CairnException.InvalidInput> { r.occurrences(Instant.EPOCH, at("2199-12-31T00:00"), zone) }
            assertEquals(400, r.adherence(from, days400, days400, zone).rules.single { it.key == rule.id.value }.due)
            assertFailsWith<CairnException.InvalidInput> { r.adherence(from, days400 + DAY, days400 + DAY, zone) }
            // An end before the start is refused too.
            assertFailsWith<CairnException.InvalidInput> { r.occurrences(days400, from, zone) }
            assertFailsWith<CairnException.InvalidInput> { r.adherence(days400, from, days400, zone) }
            // Still works.
            assertEquals(1, r.occurrences(from, from + DAY, zone).size)
            assertTrue(s.journal.integrityCheck())
        } finally {
            s.close()
        }
    }

    @Test
    fun planHorizonsAndLimitsOutOfRangeAreInvalidInput() = runBlocking<Unit> {
        val s = JournalFile(tmp.path())
        try {
            val r = s.reminders
            r.add(daily("09:00", "21:00", start = "2026-05-01"))
            val exact = androidLimits(true)
            for (horizon in listOf(0, -1, 63, Int.MIN_VALUE, Int.MAX_VALUE)) {
                val e = assertFailsWith<CairnException.InvalidInput>("horizon $horizon") { r.plan(now, zone, exact, horizon) }
                // `horizonDays` when negative; the core's own `horizon` when
                // out of 1-62: either way the argument is named.
                assertTrue(e.field.startsWith("horizon"), e.field)
            }
            for (max in listOf(0, -1, 501, Int.MIN_VALUE, Int.MAX_VALUE)) {
                assertFailsWith<CairnException.InvalidInput>("maxPending $max") {
                    r.plan(now, zone, PlatformLimits(maxPending = max, exactAlarms = true, inexactWindowMinutes = 10), 3)
                }
            }
            for (window in listOf(-1, 1441, Int.MIN_VALUE, Int.MAX_VALUE)) {
                assertFailsWith<CairnException.InvalidInput>("window $window") {
                    r.plan(now, zone, PlatformLimits(maxPending = 64, exactAlarms = false, inexactWindowMinutes = window), 3)
                }
            }
            // The edges themselves are accepted.
            assertEquals(2, r.plan(now, zone, exact, 1).notifications.size)
            assertEquals(124, r.plan(now, zone, exact, 62).notifications.size)
            assertEquals(1, r.plan(now, zone, PlatformLimits(1, true, 10), 3).notifications.size)
            assertEquals(6, r.plan(now, zone, PlatformLimits(500, true, 10), 3).notifications.size)
            val wide = r.plan(now, zone, PlatformLimits(64, false, 1440), 3).notifications
            assertTrue(wide.isNotEmpty() && wide.none { it.exact })
            assertTrue(s.journal.integrityCheck())
        } finally {
            s.close()
        }
    }

    private companion object {
        /** 2199-12-31T23:59:59.999Z, the last instant the journal holds. */
        const val LAST_MS = 7_258_118_399_999L
    }
}
