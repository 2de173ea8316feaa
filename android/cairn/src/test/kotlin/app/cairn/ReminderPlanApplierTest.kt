package app.cairn

import app.cairn.android.AlarmBackend
import app.cairn.android.AlarmRequest
import app.cairn.android.HeldAlarmStore
import app.cairn.android.HeldAlarms
import app.cairn.android.ReminderPlanApplier
import org.junit.After
import org.junit.Before
import org.junit.Test
import java.time.LocalTime
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * The logic behind AlarmManagerPlanApplier: which alarms to cancel and set,
 * exact or in a window, and the held ids it keeps, with a fake AlarmManager
 * and SharedPreferences over a real journal.
 */
class ReminderPlanApplierTest {
    /** Stands in for AlarmManager: the alarms it holds, by id. */
    private class FakeAlarms : AlarmBackend {
        var exact = true
        val set = linkedMapOf<String, AlarmRequest>()
        val log = mutableListOf<String>()
        var failAfter = Int.MAX_VALUE

        override fun exactAlarmsAllowed() = exact
        override fun schedule(alarm: AlarmRequest) {
            if (failAfter-- <= 0) throw IllegalStateException("Maximum limit of concurrent alarms reached")
            set[alarm.id] = alarm
            log += "set ${alarm.id}"
        }
        override fun cancel(id: String) {
            set.remove(id)
            log += "cancel $id"
        }

        /** What the OS does at boot, or to a force-stopped app. */
        fun dropAll() = set.clear()
    }

    private class MemoryStore : HeldAlarmStore {
        var held = HeldAlarms.NONE
        val saves = mutableListOf<HeldAlarms>()
        override fun load() = held
        override fun save(held: HeldAlarms) {
            this.held = held
            saves += held
        }
    }

    private val zone = "Europe/Paris"
    private lateinit var tmp: TempFolder
    private lateinit var journal: Journal
    private lateinit var reminders: Reminders
    private val alarms = FakeAlarms()
    private val store = MemoryStore()
    private lateinit var applier: ReminderPlanApplier

    @Before
    fun setUp() {
        tmp = TempFolder()
        journal = Journal.create(tmp.path(), generateKey())
        reminders = journal.reminders()
        applier = ReminderPlanApplier(reminders, alarms, store, horizonDays = 3u)
    }

    @After
    fun tearDown() {
        reminders.close()
        journal.closeJournal()
        journal.close()
        tmp.delete()
    }

    private fun at(local: String) = localMs(local, zone)

    @Test
    fun firstApplySetsEveryPlannedAlarmAndASecondChangesNothing() {
        reminders.add(daily("09:00", "21:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        val first = applier.apply(zone, now)
        assertEquals(6, first.planned)
        assertEquals(6, first.scheduled.size)
        assertTrue(first.exact)
        assertTrue(first.resynced, "nothing was held yet")
        assertEquals(first.scheduled.toSet(), alarms.set.keys)
        assertEquals(HeldAlarms(alarms.set.keys.toSet(), exact = true), store.held)
        for (a in alarms.set.values) {
            assertTrue(a.exact)
            assertEquals(0L, a.windowMs)
            assertEquals(a.notification.fireAtMs, a.triggerAtMs)
            assertTrue(localTime(a.triggerAtMs, zone) in setOf(LocalTime.of(9, 0), LocalTime.of(21, 0)))
        }

        alarms.log.clear()
        store.saves.clear()
        val again = applier.apply(zone, now + MINUTE_MS)
        assertEquals(listOf(), again.scheduled)
        assertEquals(listOf(), again.cancelled)
        assertFalse(again.resynced)
        assertEquals(listOf(), alarms.log, "an unchanged plan touches nothing")
        assertEquals(listOf(), store.saves)
    }

    @Test
    fun onlyAlarmsOfARuleShowingItsTitleAreMarkedPrivate() {
        val generic = reminders.add(daily("09:00", start = "2026-05-01", title = "Lithium"))
        val titled = reminders.add(daily("12:00", start = "2026-05-01", title = "Sertraline", showTitle = true))
        applier.apply(zone, at("2026-05-10T08:00"))
        val byRule = alarms.set.values.groupBy { it.notification.reminderId }
        assertEquals(3, byRule.getValue(generic.id).size)
        assertTrue(byRule.getValue(generic.id).none { it.showsTitle })
        assertTrue(byRule.getValue(generic.id).none { it.notification.title.contains("Lithium") })
        assertEquals(3, byRule.getValue(titled.id).size)
        assertTrue(byRule.getValue(titled.id).all { it.showsTitle && it.notification.title == "Sertraline" })

        // Opting out changes the text, hence the ids: the new alarms are generic.
        reminders.update(titled.id, daily("12:00", start = "2026-05-01", title = "Sertraline"))
        applier.apply(zone, at("2026-05-10T08:00"))
        assertTrue(alarms.set.values.none { it.showsTitle })
        assertEquals(6, alarms.set.size)
    }

    @Test
    fun changesCancelTheStaleAndSetTheNew() {
        val keep = reminders.add(daily("09:00", start = "2026-05-01"))
        val move = reminders.add(daily("12:00", start = "2026-05-01"))
        val drop = reminders.add(daily("18:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        applier.apply(zone, now)
        val before = alarms.set.toMap()
        fun ids(r: Reminder, of: Map<String, AlarmRequest> = alarms.set) = of.values.filter { it.notification.reminderId == r.id }.map { it.id }.toSet()

        reminders.update(move.id, daily("12:30", start = "2026-05-01"))
        reminders.delete(drop.id)
        alarms.log.clear()
        val applied = applier.apply(zone, now)
        assertEquals((ids(move, before) + ids(drop, before)).sorted(), applied.cancelled)
        assertEquals(ids(move), applied.scheduled.toSet())
        assertEquals(ids(keep, before), ids(keep), "untouched")
        assertEquals(3, ids(move).size)
        assertTrue(alarms.set.values.filter { it.notification.reminderId == move.id }.all { localTime(it.triggerAtMs, zone) == LocalTime.of(12, 30) })
        assertEquals(ids(drop), setOf())
        assertEquals(HeldAlarms(alarms.set.keys.toSet(), true), store.held)
        // Cancels come before the new alarms.
        assertTrue(alarms.log.indexOfLast { it.startsWith("cancel") } < alarms.log.indexOfFirst { it.startsWith("set") })
    }

    @Test
    fun withoutTheExactPermissionAlarmsGetWindows() {
        reminders.add(daily("09:00", start = "2026-05-01"))
        alarms.exact = false
        val applied = applier.apply(zone, at("2026-05-10T08:00"))
        assertFalse(applied.exact)
        assertEquals(3, alarms.set.size)
        for (a in alarms.set.values) {
            assertFalse(a.exact)
            assertTrue(a.windowMs >= 10 * MINUTE_MS, "${a.windowMs}")
            assertEquals(a.notification.windowMinutes.toLong() * MINUTE_MS, a.windowMs)
        }
        assertEquals(false, store.held.exact)
    }

    @Test
    fun aPermissionChangeSetsEverythingAgain() {
        reminders.add(daily("09:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        applier.apply(zone, now)
        val ids = alarms.set.keys.toSet()
        // Revoked: the OS drops exact alarms; the same ids come back as windows.
        alarms.exact = false
        alarms.dropAll()
        val revoked = applier.apply(zone, now)
        assertTrue(revoked.resynced)
        assertEquals(ids, revoked.scheduled.toSet())
        assertEquals(listOf(), revoked.cancelled)
        assertTrue(alarms.set.values.none { it.exact })
        // Granted again: upgraded to exact.
        alarms.exact = true
        val granted = applier.apply(zone, now)
        assertEquals(ids, granted.scheduled.toSet())
        assertTrue(alarms.set.values.all { it.exact })
        assertEquals(HeldAlarms(ids, true), store.held)
    }

    @Test
    fun resyncSetsAgainWhatABootDropped() {
        reminders.add(daily("09:00", "21:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        applier.apply(zone, now)
        val before = alarms.set.keys.toSet()
        alarms.dropAll()
        // A diff alone would believe the alarms are still there.
        assertEquals(listOf(), applier.apply(zone, now).scheduled)
        assertTrue(alarms.set.isEmpty())
        val resynced = applier.apply(zone, now, resync = true)
        assertTrue(resynced.resynced)
        assertEquals(before, alarms.set.keys)
        assertEquals(listOf(), resynced.cancelled)
    }

    @Test
    fun anAlarmPastItsTimeIsKeptForAnHourThenCancelled() {
        reminders.add(daily("09:00", start = "2026-05-01"))
        alarms.exact = false
        applier.apply(zone, at("2026-05-10T08:00"))
        val nine = alarms.set.values.first { it.triggerAtMs == at("2026-05-10T09:00") }.id

        // 09:05, the window not yet delivered: another apply must not cancel it.
        val during = applier.apply(zone, at("2026-05-10T09:05"))
        assertEquals(listOf(), during.cancelled)
        assertTrue(nine in alarms.set)
        assertTrue(nine in store.held.ids)
        // A resync does not set it again (it may have been shown already).
        val resync = applier.apply(zone, at("2026-05-10T09:05"), resync = true)
        assertTrue(nine !in resync.scheduled)
        assertEquals(2, resync.scheduled.size)
        // Well past: dropped from the plan, cancelled (a no-op for a delivered alarm).
        val later = applier.apply(zone, at("2026-05-10T10:30"))
        assertEquals(listOf(nine), later.cancelled)
        assertFalse(nine in store.held.ids)
        // Moving forward a day adds the next day's alarm.
        val tomorrow = applier.apply(zone, at("2026-05-11T10:30"))
        assertEquals(1, tomorrow.scheduled.size)
        assertEquals(at("2026-05-14T09:00"), alarms.set.getValue(tomorrow.scheduled.single()).triggerAtMs)
    }

    @Test
    fun reportsReshapeTheAlarms() {
        reminders.add(daily("09:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        applier.apply(zone, now)
        val nine = alarms.set.values.minBy { it.triggerAtMs }.notification
        // Done early: its alarm is cancelled.
        reminders.report(nine.occurrence, nine.dueMs, ReminderReport.Done(now))
        assertEquals(listOf(nine.id), applier.apply(zone, now).cancelled)
        // Snoozed: a new alarm at the snooze time replaces the old one.
        val next = alarms.set.values.minBy { it.triggerAtMs }.notification
        val until = next.dueMs + 10 * MINUTE_MS
        reminders.report(next.occurrence, next.dueMs, ReminderReport.Snoozed(until))
        val snoozed = applier.apply(zone, now)
        assertEquals(listOf(next.id), snoozed.cancelled)
        assertEquals(until, alarms.set.getValue(snoozed.scheduled.single()).triggerAtMs)
    }

    @Test
    fun aZoneChangeMovesOnlyFollowDeviceReminders() {
        val follow = reminders.add(daily("09:00", start = "2026-05-01"))
        val pinned = reminders.add(daily("09:00", start = "2026-05-01", zone = "America/Chicago"))
        val now = instantMs("2026-05-10T00:00Z")
        applier.apply("America/Chicago", now)
        val pinnedIds = alarms.set.values.filter { it.notification.reminderId == pinned.id }.map { it.id }.toSet()
        val moved = applier.apply("Europe/Lisbon", now)
        assertEquals(3, moved.scheduled.size)
        assertEquals(3, moved.cancelled.size)
        assertTrue(moved.scheduled.all { alarms.set.getValue(it).notification.reminderId == follow.id })
        assertEquals(pinnedIds, alarms.set.values.filter { it.notification.reminderId == pinned.id }.map { it.id }.toSet())
        for (a in alarms.set.values.filter { it.notification.reminderId == follow.id }) {
            assertEquals(LocalTime.of(9, 0), localTime(a.triggerAtMs, "Europe/Lisbon"))
        }
    }

    @Test
    fun aNewRuleWhoseTimeHasPassedTodayIsNotSetForToday() {
        val now = at("2026-05-10T09:10")
        reminders.add(daily("09:00", start = "2026-05-10"))
        val applied = applier.apply(zone, now)
        assertEquals(2, applied.scheduled.size)
        assertTrue(alarms.set.values.all { it.triggerAtMs > now })
        assertEquals(alarms.set.keys, store.held.ids)
    }

    @Test
    fun anInterruptedApplyIsRepairedByTheNext() {
        reminders.add(daily("09:00", "12:00", "18:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        alarms.failAfter = 4
        assertFailsWith<IllegalStateException> { applier.apply(zone, now) }
        assertEquals(4, alarms.set.size)
        // Written ahead: every id that may be set is held, the mode unknown.
        assertNull(store.held.exact)
        assertTrue(store.held.ids.containsAll(alarms.set.keys))
        alarms.failAfter = Int.MAX_VALUE
        val repaired = applier.apply(zone, now)
        assertTrue(repaired.resynced)
        assertEquals(9, alarms.set.size)
        assertEquals(HeldAlarms(alarms.set.keys.toSet(), true), store.held)
    }

    @Test
    fun aCapKeepsAlarmsUnderAndroidsLimit() {
        repeat(5) { reminders.add(daily("08:00", "12:00", "16:00", "20:00", start = "2026-05-01")) }
        val capped = ReminderPlanApplier(reminders, alarms, store, horizonDays = 7u, maxAlarms = 25u)
        val applied = capped.apply(zone, at("2026-05-10T07:00"))
        assertEquals(25, applied.planned)
        assertEquals(25, alarms.set.size)
        assertEquals(5, alarms.set.values.map { it.notification.reminderId }.toSet().size)
    }

    @Test
    fun clearCancelsEverythingHeld() {
        reminders.add(daily("09:00", start = "2026-05-01"))
        applier.apply(zone, at("2026-05-10T08:00"))
        val held = alarms.set.keys.sorted()
        assertEquals(held, applier.clear())
        assertTrue(alarms.set.isEmpty())
        assertEquals(HeldAlarms.NONE, store.held)
        assertEquals(listOf(), applier.clear())
        // The next apply starts afresh.
        assertEquals(held.toSet(), applier.apply(zone, at("2026-05-10T08:00")).scheduled.toSet())
    }

    @Test
    fun aClosedJournalChangesNothing() {
        reminders.add(daily("09:00", start = "2026-05-01"))
        applier.apply(zone, at("2026-05-10T08:00"))
        val held = store.held
        alarms.log.clear()
        journal.closeJournal()
        assertFailsWith<CairnException.Closed> { applier.apply(zone, at("2026-05-10T08:00"), resync = true) }
        Journal.create(tmp.path("other.cairn"), generateKey()).use { other ->
            other.reminders().use { r ->
                assertFailsWith<CairnException.InvalidInput> { ReminderPlanApplier(r, alarms, store).apply("Mars/Base") }
            }
            other.closeJournal()
        }
        assertEquals(listOf(), alarms.log)
        assertEquals(held, store.held)
    }

    @Test
    fun changesIsPureAndRequestsFollowThePermission() {
        val plan = listOf(planned("a", 1_000, exact = true), planned("b", 2_000, exact = true), planned("c", 500, exact = true))
        val c = ReminderPlanApplier.changes(plan, HeldAlarms(setOf("b", "stale"), true), exactAllowed = true, nowMs = 900, full = false)
        assertEquals(listOf("stale"), c.cancel)
        assertEquals(listOf("a"), c.schedule.map { it.id }, "b is held; c is past")
        assertEquals(setOf("a", "b"), c.held)
        val full = ReminderPlanApplier.changes(plan, HeldAlarms(setOf("b", "c"), true), exactAllowed = true, nowMs = 900, full = true)
        assertEquals(listOf("a", "b"), full.schedule.map { it.id })
        assertEquals(setOf("a", "b", "c"), full.held, "c stays held: it may still be delivered")
        assertEquals(listOf(), full.cancel)

        // Exact only when the plan and the OS both say so.
        assertTrue(ReminderPlanApplier.request(planned("x", 0, exact = true), exactAllowed = true).exact)
        val revoked = ReminderPlanApplier.request(planned("x", 0, exact = true), exactAllowed = false)
        assertFalse(revoked.exact)
        assertEquals(10 * MINUTE_MS, revoked.windowMs)
        val window = ReminderPlanApplier.request(planned("x", 0, exact = false, window = 15u), exactAllowed = true)
        assertFalse(window.exact)
        assertEquals(15 * MINUTE_MS, window.windowMs)
        assertEquals(10 * MINUTE_MS, ReminderPlanApplier.request(planned("x", 0, exact = false, window = 3u), true).windowMs)
    }

    private fun planned(id: String, fireAtMs: Long, exact: Boolean, window: UInt = 0u) = PlannedNotification(
        id = id,
        reminderId = "0".repeat(32),
        occurrence = "${"0".repeat(32)}:2026-05-10:0",
        dueMs = fireAtMs,
        fireAtMs = fireAtMs,
        utcOffsetSeconds = 0,
        category = ReminderCategory.CHECK_IN,
        title = "Time for your check-in",
        body = "Open Cairn to note how you are doing.",
        exact = exact,
        windowMinutes = window,
    )
}
