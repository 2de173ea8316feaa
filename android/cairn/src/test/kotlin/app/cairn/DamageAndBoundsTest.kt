package app.cairn

import app.cairn.android.AlarmBackend
import app.cairn.android.AlarmRequest
import app.cairn.android.HeldAlarmStore
import app.cairn.android.HeldAlarms
import app.cairn.android.ReminderPlanApplier
import org.junit.After
import org.junit.Before
import org.junit.Test
import java.io.File
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

    private val zone = "Europe/Paris"
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

    private fun at(local: String) = localMs(local, zone)

    /** A journal file that is closed, tampered with, and opened again. */
    private class JournalFile(val path: String) {
        val key = generateKey()
        var journal: Journal = Journal.create(path, key)
        var reminders: Reminders = journal.reminders()

        fun close() {
            reminders.close()
            journal.closeJournal()
            journal.close()
        }

        /** Edits the closed file as someone holding it but not the key would. */
        fun tamper(table: String, id: String, how: String) {
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
        val morning = r.add(daily("09:00", start = "2026-05-01", title = "Lithium", category = ReminderCategory.MEDICATION))
        val noon = r.add(daily("13:00", start = "2026-05-01"))
        // Inside the quiet hours: deferred to their end.
        val late = r.add(daily("23:30", start = "2026-05-01", category = ReminderCategory.JOURNALING))
        val session = r.add(
            NewReminder(
                category = ReminderCategory.POST_SESSION,
                schedule = ReminderSchedule.AfterEvent(
                    "infusion",
                    listOf(ReminderStep.DayAt(1u.toUShort(), "10:00"), ReminderStep.DayAt(2u.toUShort(), "10:00")),
                ),
                start = "2026-05-01",
            ),
        )
        val event = r.recordEvent("infusion", at("2026-05-09T20:00"), zone)
        val dailies = listOf(morning, noon, late)

        init {
            r.setQuietHours(QuietHours("23:00", "07:00"))
            // Yesterday's 09:00 dose, reported done: one row in reminder_log.
            val dose = r.occurrences(at("2026-05-09T00:00"), at("2026-05-10T00:00"), zone).single { it.reminderId == morning.id }
            r.report(dose.key, dose.fireMs, ReminderReport.Done(dose.fireMs + 5 * MINUTE_MS))

            // Before any damage: nothing corrupted, every rule planned.
            val plan = plan()
            assertEquals(listOf(), plan.corrupted)
            assertEquals(setOf(morning.id, noon.id, late.id, session.id), plan.notifications.map { it.reminderId }.toSet())
            assertEquals(1u, adherence().rules.single { it.key == morning.id }.done)
        }

        fun plan() = r.plan(now, zone, androidLimits(true), 3u)
        fun adherence() = r.adherence(since, now, now, zone)

        /**
         * The id of the one occurrence report, which the API never shows:
         * the 32-hex strings in the (checkpointed) file that are no other
         * record's id, tampered with until one turns out to be a report.
         */
        fun tamperReport(how: String): String {
            store.close()
            val known = setOf(morning.id, noon.id, late.id, session.id, event.id)
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
    private fun assertConfined(c: Reminded, table: String, id: String, how: String) {
        val what = "$table $how"
        val expected = listOf(RecordRef(table, id))
        val r = c.r

        // The plan: every good rule still planned, the damaged record named.
        val plan = c.plan()
        assertEquals(expected, plan.corrupted, what)
        val byRule = plan.notifications.groupBy { it.reminderId }
        for (rule in c.dailies) {
            if (table == "reminders" && rule.id == id) {
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
                byRule.getValue(c.session.id).map { it.fireAtMs },
                what,
            )
        }
        val lateTimes = byRule.getValue(c.late.id).map { localTime(it.fireAtMs, zone) }.toSet()
        if (table == "settings") {
            assertEquals(setOf(LocalTime.of(23, 30)), lateTimes, "$what: damaged quiet hours read as none")
            assertFailsWith<CairnException.Corrupted>(what) { r.quietHours() }
        } else {
            assertEquals(setOf(LocalTime.of(7, 0)), lateTimes, "$what: deferred to the end of the quiet hours")
            assertEquals(QuietHours("23:00", "07:00"), r.quietHours(), what)
        }

        // The list reads rules only.
        val list = r.list()
        val allRules = listOf(c.morning.id, c.noon.id, c.late.id, c.session.id)
        if (table == "reminders") {
            assertEquals(expected, list.corrupted, what)
            assertEquals(allRules - id, list.reminders.map { it.id }, what)
            assertFailsWith<CairnException.Corrupted>(what) { r.get(id) }
        } else {
            assertEquals(listOf(), list.corrupted, what)
            assertEquals(allRules, list.reminders.map { it.id }, what)
        }

        // Adherence reads rules, events and reports (not the quiet hours).
        val adherence = c.adherence()
        assertEquals(if (table == "settings") listOf() else expected, adherence.corrupted, what)
        val ruleKeys = adherence.rules.map { it.key }
        assertEquals(if (table == "reminders") allRules - id else allRules, ruleKeys, what)
        val morningDone = adherence.rules.single { it.key == c.morning.id }.done
        assertEquals(if (table == "reminder_log") 0u else 1u, morningDone, "$what: the done report")

        if (table == "reminder_events") {
            assertEquals(listOf(), r.events(), "$what: events() skips it")
        }

        // The Android applier sets the good rules' alarms and passes the damage on.
        val alarms = FakeAlarms()
        val held = MemoryStore()
        val applied = ReminderPlanApplier(r, alarms, held, horizonDays = 3u).apply(zone, now)
        assertEquals(expected, applied.corrupted, what)
        val alarmed = alarms.set.values.map { it.notification.reminderId }.toSet()
        assertEquals(plan.notifications.map { it.reminderId }.toSet(), alarmed, what)
        assertEquals(alarms.set.keys, held.held.ids, what)
        assertTrue(alarms.set.isNotEmpty(), what)

        assertTrue(c.store.journal.integrityCheck(), what)
    }

    @Test
    fun aDamagedRuleIsNamedAndTheOthersStillPlan() {
        for (how in hows) {
            val c = Reminded("rule-$how.cairn")
            try {
                c.store.tamper("reminders", c.noon.id, how)
                assertConfined(c, "reminders", c.noon.id, how)
            } finally {
                c.store.close()
            }
        }
    }

    @Test
    fun aDamagedEventIsNamedAndEveryRuleStillPlans() {
        for (how in hows) {
            val c = Reminded("event-$how.cairn")
            try {
                c.store.tamper("reminder_events", c.event.id, how)
                assertConfined(c, "reminder_events", c.event.id, how)
            } finally {
                c.store.close()
            }
        }
    }

    @Test
    fun damagedQuietHoursAreNamedAndReadAsNone() {
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
    fun aDamagedOccurrenceReportIsNamed() {
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
    fun aDamagedEntryThrowsCorruptedAndTheListGoesOn() {
        for (how in hows) {
            val s = JournalFile(tmp.path("entries-$how.cairn"))
            try {
                val logged = (1L..3L).map { s.journal.log(mood(it.toDouble(), atMs = noonUtc(it))) }
                val bad = logged[1]
                s.tamper("entries", bad.id, how)

                val e = assertFailsWith<CairnException.Corrupted>(how) { s.journal.entry(bad.id) }
                assertTrue(e.message!!.contains(bad.id), "$how: ${e.message}")
                for (good in logged - bad) assertEquals(good, s.journal.entry(good.id), how)

                val page = s.journal.entries(EntryQuery())
                assertEquals((logged - bad).map { it.id }.sorted(), page.entries.map { it.id }.sorted(), how)
                if (how == "set_deleted") {
                    // Listings skip tombstones without opening them: a forged
                    // one reads, in a list, as a deletion (docs/security.md);
                    // reading it by id (above) and sync verify it.
                    assertEquals(listOf(), page.corrupted, how)
                } else {
                    assertEquals(listOf(RecordRef("entries", bad.id)), page.corrupted, how)
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

    /** Kotlin's extremes, the instant before 1970 and the first after 2199. */
    private val outside = listOf(Long.MIN_VALUE, -1L, Long.MAX_VALUE, 7_258_118_400_000L)

    @Test
    fun everyInstantOutsideTheCalendarIsInvalidInput() {
        val s = JournalFile(tmp.path())
        try {
            val r = s.reminders
            val journal = s.journal
            val rule = r.add(daily("09:00", start = "2026-05-01"))
            val first = journal.log(mood(5.0, atMs = noonUtc(1)))
            r.recordEvent("infusion", at("2026-05-09T20:00"), zone)
            val limits = androidLimits(true)
            val due = r.plan(now, zone, limits, 3u).notifications.first()
            val refused: List<Pair<String, (Long) -> Any?>> = listOf(
                "log atMs" to { ms -> journal.log(mood(5.0, atMs = ms)) },
                "recordEvent atMs" to { ms -> r.recordEvent("infusion", ms, zone) },
                "report dueMs" to { ms -> r.report(due.occurrence, ms, ReminderReport.Shown(due.dueMs)) },
                "report Shown.atMs" to { ms -> r.report(due.occurrence, due.dueMs, ReminderReport.Shown(ms)) },
                "report Done.atMs" to { ms -> r.report(due.occurrence, due.dueMs, ReminderReport.Done(ms)) },
                "report Skipped.atMs" to { ms -> r.report(due.occurrence, due.dueMs, ReminderReport.Skipped(ms)) },
                "report Snoozed.untilMs" to { ms -> r.report(due.occurrence, due.dueMs, ReminderReport.Snoozed(ms)) },
                "plan nowMs" to { ms -> r.plan(ms, zone, limits, 3u) },
                "occurrences fromMs" to { ms -> r.occurrences(ms, now, zone) },
                "occurrences toMs" to { ms -> r.occurrences(now, ms, zone) },
                "adherence fromMs" to { ms -> r.adherence(ms, now, now, zone) },
                "adherence toMs" to { ms -> r.adherence(since, ms, now, zone) },
                "adherence nowMs" to { ms -> r.adherence(since, now, ms, zone) },
            )
            for ((what, call) in refused) {
                for (ms in outside) {
                    assertFailsWith<CairnException.InvalidInput>("$what = $ms") { call(ms) }
                }
            }
            // The calendar's own edges are accepted.
            r.occurrences(0L, 400 * DAY_MS, zone)
            r.occurrences(7_258_118_399_999L - 400 * DAY_MS, 7_258_118_399_999L, zone)
            r.plan(7_258_118_399_999L, zone, limits, 3u)
            r.adherence(now - 400 * DAY_MS, 7_258_118_399_999L, now, zone)

            // Nothing was written, and everything still works.
            assertEquals(listOf(first), journal.allEntries())
            assertEquals(1, r.events().size)
            val plan = r.plan(now, zone, limits, 3u)
            assertEquals(listOf(), plan.corrupted)
            assertTrue(due in plan.notifications, "no report was recorded")
            assertEquals(0u, r.adherence(since, now, now, zone).rules.single { it.key == rule.id }.shown)
            r.report(due.occurrence, due.dueMs, ReminderReport.Done(now))
            assertTrue(due.id !in r.plan(now, zone, limits, 3u).notifications.map { it.id })
            journal.log(mood(6.0))
            assertEquals(2, journal.allEntries().size)
            assertTrue(journal.integrityCheck())
        } finally {
            s.close()
        }
    }

    @Test
    fun rangesLongerThan400DaysAreInvalidInput() {
        val s = JournalFile(tmp.path())
        try {
            val r = s.reminders
            val rule = r.add(daily("09:00", start = "2026-01-01"))
            val from = at("2026-01-01T00:00")
            val days400 = from + 400 * DAY_MS
            assertEquals(400, r.occurrences(from, days400, zone).size)
            assertFailsWith<CairnException.InvalidInput> { r.occurrences(from, days400 + DAY_MS, zone) }
            assertFailsWith<CairnException.InvalidInput> { r.occurrences(from, days400 + 1, zone) }
            assertFailsWith<CairnException.InvalidInput> { r.occurrences(0L, at("2199-12-31T00:00"), zone) }
            assertEquals(400u, r.adherence(from, days400, days400, zone).rules.single { it.key == rule.id }.due)
            assertFailsWith<CairnException.InvalidInput> { r.adherence(from, days400 + DAY_MS, days400 + DAY_MS, zone) }
            // An end before the start is refused too.
            assertFailsWith<CairnException.InvalidInput> { r.occurrences(days400, from, zone) }
            assertFailsWith<CairnException.InvalidInput> { r.adherence(days400, from, days400, zone) }
            // Still works.
            assertEquals(1, r.occurrences(from, from + DAY_MS, zone).size)
            assertTrue(s.journal.integrityCheck())
        } finally {
            s.close()
        }
    }

    @Test
    fun planHorizonsAndLimitsOutOfRangeAreInvalidInput() {
        val s = JournalFile(tmp.path())
        try {
            val r = s.reminders
            r.add(daily("09:00", "21:00", start = "2026-05-01"))
            val exact = androidLimits(true)
            for (horizon in listOf(0u, 63u, UInt.MAX_VALUE)) {
                assertFailsWith<CairnException.InvalidInput>("horizon $horizon") { r.plan(now, zone, exact, horizon) }
            }
            for (max in listOf(0u, 501u, UInt.MAX_VALUE)) {
                assertFailsWith<CairnException.InvalidInput>("maxPending $max") {
                    r.plan(now, zone, PlatformLimits(maxPending = max, exactAlarms = true, inexactWindowMinutes = 10u), 3u)
                }
            }
            for (window in listOf(1441u, UInt.MAX_VALUE)) {
                assertFailsWith<CairnException.InvalidInput>("window $window") {
                    r.plan(now, zone, PlatformLimits(maxPending = 64u, exactAlarms = false, inexactWindowMinutes = window), 3u)
                }
            }
            // The edges themselves are accepted.
            assertEquals(2, r.plan(now, zone, exact, 1u).notifications.size)
            assertEquals(124, r.plan(now, zone, exact, 62u).notifications.size)
            assertEquals(1, r.plan(now, zone, PlatformLimits(1u, true, 10u), 3u).notifications.size)
            assertEquals(6, r.plan(now, zone, PlatformLimits(500u, true, 10u), 3u).notifications.size)
            val wide = r.plan(now, zone, PlatformLimits(64u, false, 1440u), 3u).notifications
            assertTrue(wide.isNotEmpty() && wide.none { it.exact })
            assertTrue(s.journal.integrityCheck())
        } finally {
            s.close()
        }
    }
}
