package app.cairn

import app.cairn.android.AlarmBackend
import app.cairn.android.AlarmRequest
import app.cairn.android.AppliedPlan
import app.cairn.android.HeldAlarmStore
import app.cairn.android.HeldAlarms
import app.cairn.android.ReminderPlanApplier
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Before
import org.junit.Test
import java.time.Duration
import java.time.Instant
import java.time.LocalTime
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
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

    private val zone = PARIS
    private lateinit var tmp: TempFolder
    private lateinit var journal: Journal
    private lateinit var reminders: Reminders
    private val alarms = FakeAlarms()
    private val store = MemoryStore()
    private lateinit var applier: ReminderPlanApplier

    @Before
    fun setUp() = runBlocking<Unit> {
        tmp = TempFolder()
        journal = Journal.create(tmp.path(), generateKey())
        reminders = journal.reminders()
        applier = ReminderPlanApplier(reminders, alarms, store, horizonDays = 3)
    }

    @After
    fun tearDown() = runBlocking<Unit> {
        reminders.close()
        journal.closeJournal()
        journal.close()
        tmp.delete()
    }

    private fun at(local: String) = local(local, zone)

    @Test
    fun firstApplySetsEveryPlannedAlarmAndASecondChangesNothing() = runBlocking<Unit> {
        reminders.add(daily("09:00", "21:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        val first = applier.applyPlan(zone, now)
        assertEquals(6, first.planned)
        assertEquals(6, first.scheduled.size)
        assertTrue(first.exact)
        assertTrue(first.resynced, "nothing was held yet")
        assertEquals(first.scheduled.toSet(), alarms.set.keys)
        assertEquals(HeldAlarms(alarms.set.keys.toSet(), exact = true), store.held)
        for (a in alarms.set.values) {
            assertTrue(a.exact)
            assertEquals(Duration.ZERO, a.window)
            assertEquals(a.notification.fireAt, a.triggerAt)
            assertTrue(localTime(a.triggerAt, zone) in setOf(LocalTime.of(9, 0), LocalTime.of(21, 0)))
        }

        alarms.log.clear()
        store.saves.clear()
        val again = applier.applyPlan(zone, now + MINUTE)
        assertEquals(listOf(), again.scheduled)
        assertEquals(listOf(), again.cancelled)
        assertFalse(again.resynced)
        assertEquals(listOf(), alarms.log, "an unchanged plan touches nothing")
        assertEquals(listOf(), store.saves)
    }

    @Test
    fun theBlockingTwinAppliesTheSamePlanFromAPlainThread() = runBlocking<Unit> {
        reminders.add(daily("09:00", "21:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        // As a BroadcastReceiver of the app's own would, on its thread.
        var applied: AppliedPlan? = null
        val receiver = Thread { applied = applier.applyPlanBlocking(zone, now) }
        receiver.start()
        receiver.join(60_000)
        assertFalse(receiver.isAlive, "applyPlanBlocking hung")
        val result = assertNotNull(applied)
        assertEquals(6, result.scheduled.size)
        assertEquals(result.scheduled.toSet(), alarms.set.keys)
        // The suspending apply then finds nothing to do.
        assertEquals(listOf(), applier.applyPlan(zone, now).scheduled)
    }

    @Test
    fun onlyAlarmsOfARuleShowingItsTitleAreMarkedPrivate() = runBlocking<Unit> {
        val generic = reminders.add(daily("09:00", start = "2026-05-01", title = "Lithium"))
        val titled = reminders.add(daily("12:00", start = "2026-05-01", title = "Sertraline", showTitle = true))
        applier.applyPlan(zone, at("2026-05-10T08:00"))
        val byRule = alarms.set.values.groupBy { it.notification.reminderId }
        assertEquals(3, byRule.getValue(generic.id).size)
        assertTrue(byRule.getValue(generic.id).none { it.showsTitle })
        assertTrue(byRule.getValue(generic.id).none { it.notification.title.contains("Lithium") })
        assertEquals(3, byRule.getValue(titled.id).size)
        assertTrue(byRule.getValue(titled.id).all { it.showsTitle && it.notification.title == "Sertraline" })

        // Opting out changes the text, hence the ids: the new alarms are generic.
        reminders.update(titled.id, daily("12:00", start = "2026-05-01", title = "Sertraline"))
        applier.applyPlan(zone, at("2026-05-10T08:00"))
        assertTrue(alarms.set.values.none { it.showsTitle })
        assertEquals(6, alarms.set.size)
    }

    @Test
    fun changesCancelTheStaleAndSetTheNew() = runBlocking<Unit> {
        val keep = reminders.add(daily("09:00", start = "2026-05-01"))
        val move = reminders.add(daily("12:00", start = "2026-05-01"))
        val drop = reminders.add(daily("18:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        applier.applyPlan(zone, now)
        val before = alarms.set.toMap()
        fun ids(r: Reminder, of: Map<String, AlarmRequest> = alarms.set) = of.values.filter { it.notification.reminderId == r.id }.map { it.id }.toSet()

        reminders.update(move.id, daily("12:30", start = "2026-05-01"))
        reminders.delete(drop.id)
        alarms.log.clear()
        val applied = applier.applyPlan(zone, now)
        assertEquals((ids(move, before) + ids(drop, before)).sorted(), applied.cancelled)
        assertEquals(ids(move), applied.scheduled.toSet())
        assertEquals(ids(keep, before), ids(keep), "untouched")
        assertEquals(3, ids(move).size)
        assertTrue(alarms.set.values.filter { it.notification.reminderId == move.id }.all { localTime(it.triggerAt, zone) == LocalTime.of(12, 30) })
        assertEquals(ids(drop), setOf())
        assertEquals(HeldAlarms(alarms.set.keys.toSet(), true), store.held)
        // Cancels come before the new alarms.
        assertTrue(alarms.log.indexOfLast { it.startsWith("cancel") } < alarms.log.indexOfFirst { it.startsWith("set") })
    }

    @Test
    fun withoutTheExactPermissionAlarmsGetWindows() = runBlocking<Unit> {
        reminders.add(daily("09:00", start = "2026-05-01"))
        alarms.exact = false
        val applied = applier.applyPlan(zone, at("2026-05-10T08:00"))
        assertFalse(applied.exact)
        assertEquals(3, alarms.set.size)
        for (a in alarms.set.values) {
            assertFalse(a.exact)
            assertTrue(a.window >= 10 * MINUTE, "${a.window}")
            assertEquals(Duration.ofMinutes(a.notification.windowMinutes.toLong()), a.window)
        }
        assertEquals(false, store.held.exact)
    }

    @Test
    fun aPermissionChangeSetsEverythingAgain() = runBlocking<Unit> {
        reminders.add(daily("09:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        applier.applyPlan(zone, now)
        val ids = alarms.set.keys.toSet()
        // Revoked: the OS drops exact alarms; the same ids come back as windows.
        alarms.exact = false
        alarms.dropAll()
        val revoked = applier.applyPlan(zone, now)
        assertTrue(revoked.resynced)
        assertEquals(ids, revoked.scheduled.toSet())
        assertEquals(listOf(), revoked.cancelled)
        assertTrue(alarms.set.values.none { it.exact })
        // Granted again: upgraded to exact.
        alarms.exact = true
        val granted = applier.applyPlan(zone, now)
        assertEquals(ids, granted.scheduled.toSet())
        assertTrue(alarms.set.values.all { it.exact })
        assertEquals(HeldAlarms(ids, true), store.held)
    }

    @Test
    fun resyncSetsAgainWhatABootDropped() = runBlocking<Unit> {
        reminders.add(daily("09:00", "21:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        applier.applyPlan(zone, now)
        val before = alarms.set.keys.toSet()
        alarms.dropAll()
        // A diff alone would believe the alarms are still there.
        assertEquals(listOf(), applier.applyPlan(zone, now).scheduled)
        assertTrue(alarms.set.isEmpty())
        val resynced = applier.applyPlan(zone, now, resync = true)
        assertTrue(resynced.resynced)
        assertEquals(before, alarms.set.keys)
        assertEquals(listOf(), resynced.cancelled)
    }

    @Test
    fun anAlarmPastItsTimeIsKeptForAnHourThenCancelled() = runBlocking<Unit> {
        reminders.add(daily("09:00", start = "2026-05-01"))
        alarms.exact = false
        applier.applyPlan(zone, at("2026-05-10T08:00"))
        val nine = alarms.set.values.first { it.triggerAt == at("2026-05-10T09:00") }.id

        // 09:05, the window not yet delivered: another apply must not cancel it.
        val during = applier.applyPlan(zone, at("2026-05-10T09:05"))
        assertEquals(listOf(), during.cancelled)
        assertTrue(nine in alarms.set)
        assertTrue(nine in store.held.ids)
        // A resync does not set it again (it may have been shown already).
        val resync = applier.applyPlan(zone, at("2026-05-10T09:05"), resync = true)
        assertTrue(nine !in resync.scheduled)
        assertEquals(2, resync.scheduled.size)
        // Well past: dropped from the plan, cancelled (a no-op for a delivered alarm).
        val later = applier.applyPlan(zone, at("2026-05-10T10:30"))
        assertEquals(listOf(nine), later.cancelled)
        assertFalse(nine in store.held.ids)
        // Moving forward a day adds the next day's alarm.
        val tomorrow = applier.applyPlan(zone, at("2026-05-11T10:30"))
        assertEquals(1, tomorrow.scheduled.size)
        assertEquals(at("2026-05-14T09:00"), alarms.set.getValue(tomorrow.scheduled.single()).triggerAt)
    }

    @Test
    fun reportsReshapeTheAlarms() = runBlocking<Unit> {
        reminders.add(daily("09:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        applier.applyPlan(zone, now)
        val nine = alarms.set.values.minBy { it.triggerAt }.notification
        // Done early: its alarm is cancelled.
        reminders.report(nine.occurrence, nine.due, ReminderReport.Done(now))
        assertEquals(listOf(nine.id), applier.applyPlan(zone, now).cancelled)
        // Snoozed: a new alarm at the snooze time replaces the old one.
        val next = alarms.set.values.minBy { it.triggerAt }.notification
        val until = next.due + 10 * MINUTE
        reminders.report(next.occurrence, next.due, ReminderReport.Snoozed(until))
        val snoozed = applier.applyPlan(zone, now)
        assertEquals(listOf(next.id), snoozed.cancelled)
        assertEquals(until, alarms.set.getValue(snoozed.scheduled.single()).triggerAt)
    }

    @Test
    fun aZoneChangeMovesOnlyFollowDeviceReminders() = runBlocking<Unit> {
        val follow = reminders.add(daily("09:00", start = "2026-05-01"))
        val pinned = reminders.add(daily("09:00", start = "2026-05-01", zone = CHICAGO))
        val now = instant("2026-05-10T00:00Z")
        applier.applyPlan(CHICAGO, now)
        val pinnedIds = alarms.set.values.filter { it.notification.reminderId == pinned.id }.map { it.id }.toSet()
        val moved = applier.applyPlan(LISBON, now)
        assertEquals(3, moved.scheduled.size)
        assertEquals(3, moved.cancelled.size)
        assertTrue(moved.scheduled.all { alarms.set.getValue(it).notification.reminderId == follow.id })
        assertEquals(pinnedIds, alarms.set.values.filter { it.notification.reminderId == pinned.id }.map { it.id }.toSet())
        for (a in alarms.set.values.filter { it.notification.reminderId == follow.id }) {
            assertEquals(LocalTime.of(9, 0), localTime(a.triggerAt, LISBON))
        }
    }

    @Test
    fun aNewRuleWhoseTimeHasPassedTodayIsNotSetForToday() = runBlocking<Unit> {
        val now = at("2026-05-10T09:10")
        reminders.add(daily("09:00", start = "2026-05-10"))
        val applied = applier.applyPlan(zone, now)
        assertEquals(2, applied.scheduled.size)
        assertTrue(alarms.set.values.all { it.triggerAt > now })
        assertEquals(alarms.set.keys, store.held.ids)
    }

    @Test
    fun anInterruptedApplyIsRepairedByTheNext() = runBlocking<Unit> {
        reminders.add(daily("09:00", "12:00", "18:00", start = "2026-05-01"))
        val now = at("2026-05-10T08:00")
        alarms.failAfter = 4
        assertFailsWith<IllegalStateException> { applier.applyPlan(zone, now) }
        assertEquals(4, alarms.set.size)
        // Written ahead: every id that may be set is held, the mode unknown.
        assertNull(store.held.exact)
        assertTrue(store.held.ids.containsAll(alarms.set.keys))
        alarms.failAfter = Int.MAX_VALUE
        val repaired = applier.applyPlan(zone, now)
        assertTrue(repaired.resynced)
        assertEquals(9, alarms.set.size)
        assertEquals(HeldAlarms(alarms.set.keys.toSet(), true), store.held)
    }

    @Test
    fun aCapKeepsAlarmsUnderAndroidsLimit() = runBlocking<Unit> {
        repeat(5) { reminders.add(daily("08:00", "12:00", "16:00", "20:00", start = "2026-05-01")) }
        val capped = ReminderPlanApplier(reminders, alarms, store, horizonDays = 7, maxAlarms = 25)
        val applied = capped.applyPlan(zone, at("2026-05-10T07:00"))
        assertEquals(25, applied.planned)
        assertEquals(25, alarms.set.size)
        assertEquals(5, alarms.set.values.map { it.notification.reminderId }.toSet().size)
    }

    @Test
    fun clearCancelsEverythingHeld() = runBlocking<Unit> {
        reminders.add(daily("09:00", start = "2026-05-01"))
        applier.applyPlan(zone, at("2026-05-10T08:00"))
        val held = alarms.set.keys.sorted()
        assertEquals(held, applier.clear())
        assertTrue(alarms.set.isEmpty())
        assertEquals(HeldAlarms.NONE, store.held)
        assertEquals(listOf(), applier.clear())
        // The next apply starts afresh.
        assertEquals(held.toSet(), applier.applyPlan(zone, at("2026-05-10T08:00")).scheduled.toSet())
    }

    @Test
    fun aClosedJournalChangesNothing() = runBlocking<Unit> {
        reminders.add(daily("09:00", start = "2026-05-01"))
        applier.applyPlan(zone, at("2026-05-10T08:00"))
        val held = store.held
        alarms.log.clear()
        journal.closeJournal()
        assertFailsWith<CairnException.Closed> { applier.applyPlan(zone, at("2026-05-10T08:00"), resync = true) }
        assertFailsWith<CairnException.Closed> { applier.applyPlanBlocking(zone, at("2026-05-10T08:00"), resync = true) }
        Journal.create(tmp.path("other.cairn"), generateKey()).use { other ->
            other.reminders().use { r ->
                assertFailsWith<CairnException.UnknownZone> { ReminderPlanApplier(r, alarms, store).applyPlan(MARS) }
            }
            other.closeJournal()
        }
        assertEquals(listOf(), alarms.log)
        assertEquals(held, store.held)
    }

    @Test
    fun changesIsPureAndRequestsFollowThePermission() = runBlocking<Unit> {
        val plan = listOf(planned("a", 1_000, exact = true), planned("b", 2_000, exact = true), planned("c", 500, exact = true))
        val c = ReminderPlanApplier.changes(plan, HeldAlarms(setOf("b", "stale"), true), exactAllowed = true, now = ms(900), full = false)
        assertEquals(listOf("stale"), c.cancel)
        assertEquals(listOf("a"), c.schedule.map { it.id }, "b is held; c is past")
        assertEquals(setOf("a", "b"), c.held)
        val full = ReminderPlanApplier.changes(plan, HeldAlarms(setOf("b", "c"), true), exactAllowed = true, now = ms(900), full = true)
        assertEquals(listOf("a", "b"), full.schedule.map { it.id })
        assertEquals(setOf("a", "b", "c"), full.held, "c stays held: it may still be delivered")
        assertEquals(listOf(), full.cancel)

        // Exact only when the plan and the OS both say so.
        assertTrue(ReminderPlanApplier.request(planned("x", 0, exact = true), exactAllowed = true).exact)
        val revoked = ReminderPlanApplier.request(planned("x", 0, exact = true), exactAllowed = false)
        assertFalse(revoked.exact)
        assertEquals(10 * MINUTE, revoked.window)
        val window = ReminderPlanApplier.request(planned("x", 0, exact = false, window = 15), exactAllowed = true)
        assertFalse(window.exact)
        assertEquals(15 * MINUTE, window.window)
        assertEquals(10 * MINUTE, ReminderPlanApplier.request(planned("x", 0, exact = false, window = 3), true).window)
    }

    private fun ms(ms: Long): Instant = Instant.ofEpochMilli(ms)

    private fun planned(id: String, fireAtMillis: Long, exact: Boolean, window: Int = 0) = PlannedNotification(
        id = id,
        reminderId = ReminderId("0".repeat(32)),
        occurrence = "${"0".repeat(32)}:2026-05-10:0",
        due = ms(fireAtMillis),
        fireAt = ms(fireAtMillis),
        utcOffsetSeconds = 0,
        category = ReminderCategory.CHECK_IN,
        title = "Time for your check-in",
        body = "Open Cairn to note how you are doing.",
        exact = exact,
        windowMinutes = window,
    )
}
