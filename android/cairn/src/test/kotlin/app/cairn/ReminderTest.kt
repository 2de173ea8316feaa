package app.cairn

import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Before
import org.junit.Test
import java.time.DayOfWeek
import java.time.Instant
import java.time.LocalDate
import java.time.LocalDateTime
import java.time.LocalTime
import java.time.OffsetDateTime
import java.time.ZoneId
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** An ISO instant with its offset, e.g. `2026-03-08T03:30-04:00`. */
fun instant(iso: String): Instant = OffsetDateTime.parse(iso).toInstant()

/** A local date-time (`2026-06-10T09:00`) in [zone]. */
fun local(local: String, zone: ZoneId): Instant = LocalDateTime.parse(local).atZone(zone).toInstant()

/** The wall-clock time of [at] in [zone]. */
fun localTime(at: Instant, zone: ZoneId): LocalTime = at.atZone(zone).toLocalTime()

fun localDate(at: Instant, zone: ZoneId): LocalDate = at.atZone(zone).toLocalDate()

fun time(hhmm: String): LocalTime = LocalTime.parse(hhmm)
fun times(vararg hhmm: String): List<LocalTime> = hhmm.map(LocalTime::parse)
fun day(iso: String): LocalDate = LocalDate.parse(iso)

val NEW_YORK: ZoneId = ZoneId.of("America/New_York")
val CHICAGO: ZoneId = ZoneId.of("America/Chicago")
val LISBON: ZoneId = ZoneId.of("Europe/Lisbon")

/** A daily check-in rule with the API's defaults (times and days as ISO text, for brevity). */
fun daily(
    vararg times: String,
    start: String = "2026-01-01",
    zone: ZoneId? = null,
    title: String? = null,
    showTitle: Boolean = false,
    quiet: QuietPolicy? = null,
    category: ReminderCategory = ReminderCategory.CHECK_IN,
    end: String? = null,
) = NewReminder(
    category = category,
    schedule = ReminderSchedule.Daily(times.map(LocalTime::parse)),
    start = day(start),
    zone = zone,
    end = end?.let(::day),
    title = title,
    showTitle = showTitle,
    quiet = quiet,
)

/**
 * The reminders API (`journal.reminders()` and the free functions
 * `iosLimits`, `androidLimits`, `diffPlan`), method by method, on real SQLite
 * files and the host's tz database. Every date is fixed; `plan` takes its
 * `now` explicitly.
 */
class ReminderTest {
    private lateinit var tmp: TempFolder
    private lateinit var journal: Journal
    private lateinit var reminders: Reminders

    @Before
    fun setUp() = runBlocking<Unit> {
        tmp = TempFolder()
        journal = Journal.create(tmp.path(), generateKey())
        reminders = journal.reminders()
    }

    @After
    fun tearDown() = runBlocking<Unit> {
        reminders.close()
        journal.closeJournal()
        journal.close()
        tmp.delete()
    }

    // --- rules ----------------------------------------------------------------

    @Test
    fun addGetListUpdateDelete() = runBlocking<Unit> {
        val added = reminders.add(daily("20:00", "08:00", "08:00", title = "Evening pills", category = ReminderCategory.MEDICATION))
        assertTrue(added.id.value.matches(Regex("[0-9a-f]{32}")), added.id.value)
        assertEquals(1L, added.revision)
        assertEquals(ReminderCategory.MEDICATION, added.category)
        // Times come back sorted and de-duplicated.
        assertEquals(ReminderSchedule.Daily(times("08:00", "20:00")), added.schedule)
        assertEquals(day("2026-01-01"), added.start)
        assertNull(added.zone)
        assertNull(added.end)
        assertNull(added.count)
        assertEquals("Evening pills", added.title)
        assertFalse(added.showTitle)
        assertEquals(QuietPolicy.DEFER, added.quiet, "no policy given: defer")
        assertEquals(60, added.graceMinutes)
        assertTrue(added.enabled)
        assertEquals(added, reminders.get(added.id))
        assertEquals(listOf(added), reminders.list().reminders)

        val second = reminders.add(daily("12:00", zone = PARIS, quiet = QuietPolicy.IGNORE))
        assertEquals(listOf(added.id, second.id), reminders.list().reminders.map { it.id }, "in the order added")
        assertEquals(PARIS, second.zone)
        assertEquals(QuietPolicy.IGNORE, second.quiet)

        val changed = reminders.update(
            added.id,
            NewReminder(
                category = ReminderCategory.MEDICATION,
                schedule = ReminderSchedule.Daily(times("21:15")),
                start = day("2026-02-01"),
                end = day("2026-03-01"),
                count = 10,
                graceMinutes = 30,
                enabled = false,
            ),
        )
        assertEquals(added.id, changed.id)
        assertEquals(2L, changed.revision)
        assertEquals(ReminderSchedule.Daily(times("21:15")), changed.schedule)
        assertEquals(day("2026-03-01"), changed.end)
        assertEquals(10, changed.count)
        assertEquals(30, changed.graceMinutes)
        assertFalse(changed.enabled)
        assertNull(changed.title)
        assertEquals(changed, reminders.get(added.id))

        reminders.delete(added.id)
        assertFailsWith<CairnException.NotFound> { reminders.get(added.id) }
        assertFailsWith<CairnException.NotFound> { reminders.delete(added.id) }
        assertFailsWith<CairnException.NotFound> { reminders.update(added.id, daily("09:00")) }
        assertEquals(listOf(second.id), reminders.list().reminders.map { it.id })
        // The journal object hands out independent handles on the same store.
        journal.reminders().use { other -> assertEquals(reminders.list().reminders, other.list().reminders) }
    }

    @Test
    fun everyScheduleKindRoundTripsAndExpands() = runBlocking<Unit> {
        val zone = PARIS
        suspend fun add(schedule: ReminderSchedule, start: String = "2026-04-01") =
            reminders.add(NewReminder(ReminderCategory.JOURNALING, schedule, day(start), zone = zone))

        val weekly = add(ReminderSchedule.Weekly(listOf(DayOfWeek.FRIDAY, DayOfWeek.MONDAY, DayOfWeek.MONDAY), times("18:00")))
        assertEquals(ReminderSchedule.Weekly(listOf(DayOfWeek.MONDAY, DayOfWeek.FRIDAY), times("18:00")), weekly.schedule)
        val everyThree = add(ReminderSchedule.EveryNDays(3, times("07:45")), start = "2026-04-02")
        val monthEnd = add(ReminderSchedule.MonthDay(31, times("10:00")))
        val once = add(ReminderSchedule.Once(day("2026-04-15"), time("16:20")))
        assertEquals(day("2026-04-15"), once.start, "a one-off starts on its date")
        val window = add(ReminderSchedule.Window(time("14:00"), time("16:00"), listOf()))
        val after = add(
            ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.After(90), ReminderStep.DayAt(2, time("09:30")))),
        )
        for (r in listOf(weekly, everyThree, monthEnd, once, window, after)) assertEquals(r, reminders.get(r.id))

        // April 2026: the 1st is a Wednesday.
        val from = local("2026-04-01T00:00", zone)
        val to = local("2026-05-01T00:00", zone)
        val occ = reminders.occurrences(from, to, UTC)
        assertEquals(occ.sortedBy { it.fireAt }, occ, "in time order")
        fun of(r: Reminder) = occ.filter { it.reminderId == r.id }
        fun dates(r: Reminder) = of(r).map { localDate(it.fireAt, zone).toString() }

        assertEquals(
            listOf("2026-04-03", "2026-04-06", "2026-04-10", "2026-04-13", "2026-04-17", "2026-04-20", "2026-04-24", "2026-04-27"),
            dates(weekly),
        )
        assertEquals((2..29 step 3).map { "2026-04-%02d".format(it) }, dates(everyThree))
        assertEquals(listOf("2026-04-30"), dates(monthEnd), "April has no 31st: its last day")
        assertEquals(listOf(local("2026-04-15T16:20", zone)), of(once).map { it.fireAt })
        assertEquals(30, of(window).size)
        for (o in of(window)) {
            val t = localTime(o.fireAt, zone)
            assertTrue(t >= LocalTime.of(14, 0) && t < LocalTime.of(16, 0), "$t")
            assertEquals(0, t.second)
        }
        assertTrue(of(window).map { localTime(it.fireAt, zone) }.toSet().size > 1, "a window moves from day to day")
        assertEquals(of(window), reminders.occurrences(from, to, UTC).filter { it.reminderId == window.id }, "reproducible")
        assertEquals(listOf(), of(after), "no event recorded yet")
        // Keys: rule:date:slot, with the offset in force.
        val first = of(weekly).first()
        assertEquals("${weekly.id}:2026-04-03:0", first.key)
        assertEquals(2 * 3600, first.utcOffsetSeconds)

        // A count limits the occurrences; a disabled rule has none.
        val counted = reminders.add(NewReminder(ReminderCategory.CHECK_IN, ReminderSchedule.Daily(times("09:00", "21:00")), day("2026-04-01"), count = 3))
        assertEquals(3, reminders.occurrences(from, to, zone).count { it.reminderId == counted.id })
        reminders.update(counted.id, NewReminder(ReminderCategory.CHECK_IN, ReminderSchedule.Daily(times("09:00")), day("2026-04-01"), enabled = false))
        assertEquals(0, reminders.occurrences(from, to, zone).count { it.reminderId == counted.id })
        assertEquals(listOf(), reminders.plan(from, zone, androidLimits(true), 30).notifications.filter { it.reminderId == counted.id })
    }

    // --- time semantics -------------------------------------------------------

    @Test
    fun springForwardGapShiftsByTheGap() = runBlocking<Unit> {
        val ny = NEW_YORK
        val rule = reminders.add(daily("02:30", start = "2026-03-07", end = "2026-03-09", zone = ny))
        val occ = reminders.occurrences(instant("2026-03-06T00:00Z"), instant("2026-03-11T00:00Z"), LISBON)
        assertEquals(
            listOf(
                instant("2026-03-07T02:30-05:00"),
                instant("2026-03-08T03:30-04:00"), // 02:30 does not exist that day
                instant("2026-03-09T02:30-04:00"),
            ),
            occ.map { it.fireAt },
        )
        assertEquals(listOf(-5 * 3600, -4 * 3600, -4 * 3600), occ.map { it.utcOffsetSeconds })
        assertEquals("${rule.id}:2026-03-08:0", occ[1].key, "keyed by the local date it belongs to")

        val plan = reminders.plan(instant("2026-03-07T12:00Z"), LISBON, iosLimits(), 3).notifications
        assertEquals(listOf(occ[1].fireAt, occ[2].fireAt), plan.map { it.fireAt })
        val n = plan.first()
        assertEquals(instant("2026-03-08T03:30-04:00"), n.fireAt)
        assertEquals(n.fireAt, n.due)
        assertEquals(-4 * 3600, n.utcOffsetSeconds)
        assertEquals(LocalTime.of(3, 30), localTime(n.fireAt, ny))
        assertEquals(occ[1].key, n.occurrence)
    }

    @Test
    fun fallBackOverlapFiresOnceAtTheFirst() = runBlocking<Unit> {
        val ny = NEW_YORK
        reminders.add(daily("01:30", start = "2026-10-31", end = "2026-11-02", zone = ny))
        val occ = reminders.occurrences(instant("2026-10-30T00:00Z"), instant("2026-11-04T00:00Z"), UTC)
        assertEquals(
            listOf(
                instant("2026-10-31T01:30-04:00"),
                instant("2026-11-01T01:30-04:00"), // EDT, not again at 01:30 EST
                instant("2026-11-02T01:30-05:00"),
            ),
            occ.map { it.fireAt },
        )
        assertEquals(1, occ.count { localDate(it.fireAt, ny) == LocalDate.of(2026, 11, 1) })
        assertEquals(-4 * 3600, occ[1].utcOffsetSeconds)

        val plan = reminders.plan(instant("2026-10-31T12:00Z"), UTC, androidLimits(true), 3).notifications
        assertEquals(listOf(instant("2026-11-01T01:30-04:00"), instant("2026-11-02T01:30-05:00")), plan.map { it.fireAt })
    }

    @Test
    fun followDeviceKeepsLocalTimeWhilePinnedKeepsItsZone() = runBlocking<Unit> {
        val follow = reminders.add(daily("09:00", start = "2026-06-01"))
        val pinned = reminders.add(daily("09:00", start = "2026-06-01", zone = CHICAGO))
        val now = instant("2026-06-10T00:00Z")
        suspend fun plan(device: ZoneId) = reminders.plan(now, device, androidLimits(true), 2).notifications

        val inChicago = plan(CHICAGO)
        val inLisbon = plan(LISBON)
        for (n in inChicago) assertEquals(LocalTime.of(9, 0), localTime(n.fireAt, CHICAGO))
        val followLisbon = inLisbon.filter { it.reminderId == follow.id }
        val pinnedLisbon = inLisbon.filter { it.reminderId == pinned.id }
        assertEquals(2, followLisbon.size)
        for (n in followLisbon) {
            assertEquals(LocalTime.of(9, 0), localTime(n.fireAt, LISBON))
            assertEquals(3600, n.utcOffsetSeconds)
        }
        for (n in pinnedLisbon) {
            assertEquals(LocalTime.of(15, 0), localTime(n.fireAt, LISBON), "09:00 in Chicago")
            assertEquals(-5 * 3600, n.utcOffsetSeconds)
        }
        // A moved occurrence gets a new id; one that stays keeps its id.
        val chicagoIds = inChicago.groupBy({ it.reminderId }, { it.id })
        assertEquals(chicagoIds[pinned.id], pinnedLisbon.map { it.id })
        assertTrue(followLisbon.none { it.id in chicagoIds.getValue(follow.id) })
        val diff = diffPlan(inLisbon, inChicago.map { it.id })
        assertEquals(chicagoIds.getValue(follow.id).sorted(), diff.remove)
        assertEquals(followLisbon, diff.add)
    }

    // --- the plan for the OS --------------------------------------------------

    @Test
    fun iosLimitKeepsSixtyFourFairSortedAndGeneric() = runBlocking<Unit> {
        val limits = iosLimits()
        assertEquals(PlatformLimits(maxPending = 64, exactAlarms = true, inexactWindowMinutes = 10), limits)
        val marker = "MARKER-7f3a"
        val rules = (0 until 50).map { i ->
            reminders.add(
                daily(
                    "08:00", "13:00", "20:00",
                    start = "2026-05-01",
                    title = "$marker private title $i",
                    showTitle = i == 7,
                    category = if (i % 2 == 0) ReminderCategory.CHECK_IN else ReminderCategory.MEDICATION,
                ),
            )
        }
        val plan = reminders.plan(local("2026-05-10T07:00", PARIS), PARIS, limits, 7).notifications
        assertEquals(64, plan.size)
        assertEquals(rules.map { it.id }.toSet(), plan.map { it.reminderId }.toSet(), "every rule present")
        assertEquals(plan.sortedBy { it.fireAt }, plan, "sorted by time")
        assertEquals(64, plan.map { it.id }.toSet().size)
        assertEquals(64, plan.map { it.occurrence }.toSet().size)
        // Fair: each rule's first occurrence (08:00), then 14 second ones (13:00).
        assertEquals(50, plan.count { localTime(it.fireAt, PARIS) == LocalTime.of(8, 0) })
        assertEquals(14, plan.count { localTime(it.fireAt, PARIS) == LocalTime.of(13, 0) })
        val optedIn = rules[7].id
        for (n in plan) {
            assertTrue(n.exact)
            assertEquals(0, n.windowMinutes)
            assertTrue(n.id.startsWith(notificationIdPrefix()), n.id)
            assertFalse(n.body.contains(marker), n.body)
            if (n.reminderId == optedIn) {
                assertEquals("$marker private title 7", n.title)
            } else {
                assertFalse(n.title.contains(marker), n.title)
                val generic = if (n.category == ReminderCategory.CHECK_IN) "Time for your check-in" else "Reminder"
                assertEquals(generic, n.title)
            }
            assertTrue(n.body.isNotBlank())
        }
        // The same inputs give the same plan (stable ids).
        assertEquals(plan, reminders.plan(local("2026-05-10T07:00", PARIS), PARIS, limits, 7).notifications)
        assertEquals("cairn-", notificationIdPrefix())
    }

    @Test
    fun changingTheTextChangesTheId() = runBlocking<Unit> {
        val rule = reminders.add(daily("09:00", start = "2026-05-01", title = "Lithium"))
        val now = instant("2026-05-10T00:00Z")
        val generic = reminders.plan(now, UTC, androidLimits(true), 1).notifications.single()
        assertEquals("Time for your check-in", generic.title)
        // Opting in to the title: same occurrence and time, new text, new id,
        // so the diff replaces the notification the OS holds.
        reminders.update(rule.id, daily("09:00", start = "2026-05-01", title = "Lithium", showTitle = true))
        val titled = reminders.plan(now, UTC, androidLimits(true), 1).notifications.single()
        assertEquals("Lithium", titled.title)
        assertEquals(generic.occurrence, titled.occurrence)
        assertEquals(generic.fireAt, titled.fireAt)
        assertNotEquals(generic.id, titled.id)
        assertEquals(PlanDiff(listOf(titled), listOf(generic.id)), diffPlan(listOf(titled), listOf(generic.id)))
        // Another category: other generic text, another id.
        reminders.update(rule.id, daily("09:00", start = "2026-05-01", category = ReminderCategory.MEDICATION))
        val medication = reminders.plan(now, UTC, androidLimits(true), 1).notifications.single()
        assertEquals("Reminder", medication.title)
        assertNotEquals(generic.id, medication.id)
    }

    @Test
    fun androidWithoutExactAlarmsPlansWindows() = runBlocking<Unit> {
        val inexact = androidLimits(false)
        assertFalse(inexact.exactAlarms)
        assertTrue(inexact.inexactWindowMinutes >= 10)
        assertTrue(inexact.maxPending > 64)
        val exact = androidLimits(true)
        assertTrue(exact.exactAlarms)
        reminders.add(daily("08:00", "20:00", start = "2026-05-01"))
        reminders.add(daily("12:00", start = "2026-05-01", zone = ZoneId.of("Asia/Tokyo")))
        val now = instant("2026-05-10T00:00Z")
        val windows = reminders.plan(now, ZoneId.of("Europe/Berlin"), inexact, 7).notifications
        assertEquals(21, windows.size)
        for (n in windows) {
            assertFalse(n.exact)
            assertTrue(n.windowMinutes >= 10, "${n.windowMinutes}")
            assertTrue(n.fireAt >= now)
        }
        val exacts = reminders.plan(now, ZoneId.of("Europe/Berlin"), exact, 7).notifications
        assertEquals(windows.map { it.id }, exacts.map { it.id }, "exactness is not part of the id")
        assertTrue(exacts.all { it.exact && it.windowMinutes == 0 })
        // A tighter limit of the caller's own.
        assertEquals(5, reminders.plan(now, ZoneId.of("Europe/Berlin"), exact.copy(maxPending = 5), 7).notifications.size)
        // Horizon: 1 to 62 days.
        assertEquals(3, reminders.plan(now, ZoneId.of("Europe/Berlin"), exact, 1).notifications.size)
        assertEquals(62 * 3, reminders.plan(now, ZoneId.of("Europe/Berlin"), exact, 62).notifications.size)
    }

    @Test
    fun diffPlanAgainstHeldIds() = runBlocking<Unit> {
        val rule = reminders.add(daily("09:00", "18:00", start = "2026-05-01"))
        val now = instant("2026-05-10T00:00Z")
        val plan = reminders.plan(now, UTC, androidLimits(true), 3).notifications
        assertEquals(6, plan.size)
        val ids = plan.map { it.id }

        assertEquals(PlanDiff(add = listOf(), remove = listOf()), diffPlan(plan, ids), "identical plan: nothing to do")
        assertEquals(PlanDiff(add = plan, remove = listOf()), diffPlan(plan, listOf()), "nothing held: add everything")
        val stale = listOf("cairn-stale2", "cairn-stale1", "cairn-stale1")
        val d = diffPlan(plan, ids.drop(2) + stale)
        assertEquals(plan.take(2), d.add)
        assertEquals(listOf("cairn-stale1", "cairn-stale2"), d.remove, "sorted, once each")
        assertEquals(PlanDiff(add = listOf(), remove = ids.sorted()), diffPlan(listOf(), ids))
        assertEquals(PlanDiff(add = listOf(), remove = listOf()), diffPlan(listOf(), listOf()))

        // Moving the rule's times replaces every notification.
        reminders.update(rule.id, daily("09:30", "18:00", start = "2026-05-01"))
        val moved = reminders.plan(now, UTC, androidLimits(true), 3).notifications
        val md = diffPlan(moved, ids)
        assertEquals(moved.filter { localTime(it.fireAt, UTC) == LocalTime.of(9, 30) }, md.add)
        assertEquals(plan.filter { localTime(it.fireAt, UTC) == LocalTime.of(9, 0) }.map { it.id }.sorted(), md.remove)
        // Deleting it removes the rest.
        reminders.delete(rule.id)
        assertEquals(PlanDiff(listOf(), moved.map { it.id }.sorted()), diffPlan(reminders.plan(now, UTC, androidLimits(true), 3).notifications, moved.map { it.id }))
    }

    @Test
    fun quietHoursDeferOrSkip() = runBlocking<Unit> {
        val zone = PARIS
        assertNull(reminders.quietHours())
        reminders.setQuietHours(QuietHours(time("22:00"), time("07:00")))
        assertEquals(QuietHours(time("22:00"), time("07:00")), reminders.quietHours())

        val deferred = reminders.add(daily("23:00", start = "2026-06-01", quiet = QuietPolicy.DEFER))
        val skipped = reminders.add(daily("23:30", start = "2026-06-01", quiet = QuietPolicy.SKIP))
        val ignored = reminders.add(daily("23:15", start = "2026-06-01", quiet = QuietPolicy.IGNORE))
        val outside = reminders.add(daily("21:59", "07:00", start = "2026-06-01", quiet = QuietPolicy.SKIP))
        // 05:00 would be deferred to 07:00, past the rule's 06:00: skipped;
        // 06:00 is deferred to 07:00.
        val crowded = reminders.add(daily("05:00", "06:00", start = "2026-06-01"))

        val now = local("2026-06-10T12:00", zone)
        val plan = reminders.plan(now, zone, androidLimits(true), 2).notifications
        fun of(r: Reminder) = plan.filter { it.reminderId == r.id }

        assertEquals(2, of(deferred).size)
        for (n in of(deferred)) {
            assertEquals(LocalTime.of(23, 0), localTime(n.due, zone))
            assertEquals(LocalTime.of(7, 0), localTime(n.fireAt, zone))
            assertEquals(localDate(n.due, zone).plusDays(1), localDate(n.fireAt, zone))
        }
        assertEquals(listOf(), of(skipped))
        assertEquals(listOf(LocalTime.of(23, 15), LocalTime.of(23, 15)), of(ignored).map { localTime(it.fireAt, zone) })
        assertEquals(
            listOf(LocalTime.of(21, 59), LocalTime.of(7, 0), LocalTime.of(21, 59), LocalTime.of(7, 0)),
            of(outside).map { localTime(it.fireAt, zone) },
            "quiet hours end at 07:00 (exclusive) and start at 22:00",
        )
        assertEquals(listOf(LocalTime.of(7, 0), LocalTime.of(7, 0)), of(crowded).map { localTime(it.fireAt, zone) })
        assertEquals(listOf(LocalTime.of(6, 0), LocalTime.of(6, 0)), of(crowded).map { localTime(it.due, zone) })

        // Quiet hours are in the device's zone.
        val inTokyo = reminders.plan(now, ZoneId.of("Asia/Tokyo"), androidLimits(true), 2).notifications
        assertTrue(inTokyo.filter { it.reminderId == skipped.id }.isEmpty())
        assertTrue(inTokyo.filter { it.reminderId == deferred.id }.all { localTime(it.fireAt, ZoneId.of("Asia/Tokyo")) == LocalTime.of(7, 0) })

        reminders.setQuietHours(null)
        assertNull(reminders.quietHours())
        val free = reminders.plan(now, zone, androidLimits(true), 2).notifications
        assertEquals(listOf(LocalTime.of(23, 30), LocalTime.of(23, 30)), free.filter { it.reminderId == skipped.id }.map { localTime(it.fireAt, zone) })
        assertTrue(free.all { it.fireAt == it.due })
        // A daytime range does not wrap.
        reminders.setQuietHours(QuietHours(time("12:30"), time("14:00")))
        assertEquals(QuietHours(time("12:30"), time("14:00")), reminders.quietHours())
    }

    // --- lifecycle and adherence ----------------------------------------------

    @Test
    fun reportsDriveThePlanAndAdherence() = runBlocking<Unit> {
        val zone = PARIS
        val rule = reminders.add(daily("09:00", start = "2026-05-01"))
        val other = reminders.add(daily("12:00", start = "2026-05-01", category = ReminderCategory.JOURNALING))
        val occ = reminders.occurrences(local("2026-05-01T00:00", zone), local("2026-05-06T00:00", zone), zone)
            .filter { it.reminderId == rule.id }
        assertEquals(5, occ.size)
        fun nine(day: Int) = local("2026-05-%02dT09:00".format(day), zone)
        assertEquals((1..5).map(::nine), occ.map { it.fireAt })

        // Day 1: shown on time and done. Day 2: shown 10 minutes late and
        // skipped. Day 3: shown, snoozed to 09:30, nothing more. Day 4:
        // nothing at all. Day 5: shown, still within its grace period.
        reminders.report(occ[0].key, occ[0].fireAt, ReminderReport.Shown(nine(1).plusSeconds(1)))
        reminders.report(occ[0].key, occ[0].fireAt, ReminderReport.Done(nine(1) + 5 * MINUTE))
        reminders.report(occ[1].key, occ[1].fireAt, ReminderReport.Shown(nine(2) + 10 * MINUTE))
        reminders.report(occ[1].key, occ[1].fireAt, ReminderReport.Skipped(nine(2) + 11 * MINUTE))
        reminders.report(occ[2].key, occ[2].fireAt, ReminderReport.Shown(nine(3)))
        reminders.report(occ[2].key, occ[2].fireAt, ReminderReport.Snoozed(nine(3) + 30 * MINUTE))
        reminders.report(occ[4].key, occ[4].fireAt, ReminderReport.Shown(nine(5) + 2 * MINUTE))
        // A later, repeated "shown" keeps the first.
        reminders.report(occ[4].key, occ[4].fireAt, ReminderReport.Shown(nine(5) + 20 * MINUTE))

        val report = reminders.adherence(
            local("2026-05-01T00:00", zone),
            local("2026-05-06T00:00", zone),
            nine(5) + 30 * MINUTE,
            zone,
        )
        val mine = report.rules.single { it.key == rule.id.value }
        assertEquals(
            Adherence(key = rule.id.value, due = 5, shown = 4, late = 1, notShown = 1, done = 1, skipped = 1, missed = 2),
            mine,
        )
        // The other rule: four noons due, none reported, all missed.
        assertEquals(Adherence(other.id.value, 4, 0, 0, 4, 0, 0, 4), report.rules.single { it.key == other.id.value })
        assertEquals(
            listOf(
                Adherence("check_in", 5, 4, 1, 1, 1, 1, 2),
                Adherence("journaling", 4, 0, 0, 4, 0, 0, 4),
            ),
            report.categories,
        )
        // `to` after `now`: only what was due by now counts.
        val early = reminders.adherence(local("2026-05-01T00:00", zone), local("2026-06-01T00:00", zone), nine(2) + MINUTE, zone)
        assertEquals(2, early.rules.single { it.key == rule.id.value }.due)
        val empty = reminders.adherence(nine(1), nine(1), nine(10), zone)
        assertTrue(empty.rules.all { it.due == 0 })
        // A paused rule owes nothing: it leaves the report.
        reminders.update(other.id, daily("12:00", start = "2026-05-01", category = ReminderCategory.JOURNALING).copy(enabled = false))
        val paused = reminders.adherence(local("2026-05-01T00:00", zone), local("2026-05-06T00:00", zone), nine(5) + 30 * MINUTE, zone)
        assertEquals(listOf(mine), paused.rules)
        assertEquals(listOf("check_in"), paused.categories.map { it.key })
        // Reports need a rule that exists.
        reminders.delete(other.id)
        val gone = "${other.id}:2026-05-02:0"
        assertFailsWith<CairnException.NotFound> { reminders.report(gone, nine(2), ReminderReport.Done(nine(2))) }
        assertFailsWith<CairnException.NotFound> {
            reminders.report("${"0".repeat(32)}:2026-05-02:0", nine(2), ReminderReport.Shown(nine(2)))
        }
    }

    @Test
    fun snoozeMovesTheNotificationAndDoneRemovesIt() = runBlocking<Unit> {
        val zone = PARIS
        val rule = reminders.add(daily("09:00", start = "2026-05-01"))
        val now = local("2026-05-10T08:00", zone)
        val before = reminders.plan(now, zone, androidLimits(true), 2).notifications
        val first = before.first()
        assertEquals(local("2026-05-10T09:00", zone), first.fireAt)

        val until = first.due + 10 * MINUTE
        reminders.report(first.occurrence, first.due, ReminderReport.Snoozed(until))
        val snoozed = reminders.plan(now, zone, androidLimits(true), 2).notifications
        val again = snoozed.single { it.occurrence == first.occurrence }
        assertEquals(until, again.fireAt)
        assertEquals(first.due, again.due)
        assertNotEquals(first.id, again.id, "moved: a new id")
        val d = diffPlan(snoozed, before.map { it.id })
        assertEquals(listOf(again), d.add)
        assertEquals(listOf(first.id), d.remove)
        // Even after its original time, the snoozed one is still planned.
        assertEquals(again, reminders.plan(first.due + 5 * MINUTE, zone, androidLimits(true), 2).notifications.first())

        // Snoozing to before it was due is refused.
        assertFailsWith<CairnException.InvalidInput> {
            reminders.report(first.occurrence, first.due, ReminderReport.Snoozed(first.due))
        }
        reminders.report(first.occurrence, first.due, ReminderReport.Done(first.due + 12 * MINUTE))
        val done = reminders.plan(now, zone, androidLimits(true), 2).notifications
        assertTrue(done.none { it.occurrence == first.occurrence })
        assertEquals(before.drop(1), done)
        // Skipped ones leave the plan too.
        val next = done.first()
        reminders.report(next.occurrence, next.due, ReminderReport.Skipped(now))
        assertTrue(reminders.plan(now, zone, androidLimits(true), 2).notifications.none { it.occurrence == next.occurrence })
        assertEquals(rule.id, next.reminderId)
    }

    @Test
    fun afterEventRuleFollowsRecordedEvents() = runBlocking<Unit> {
        val zone = PARIS
        val rule = reminders.add(
            NewReminder(
                category = ReminderCategory.POST_SESSION,
                schedule = ReminderSchedule.AfterEvent(
                    "Infusion",
                    listOf(ReminderStep.After(120), ReminderStep.DayAt(1, time("09:00")), ReminderStep.DayAt(3, time("20:00"))),
                ),
                start = day("2026-04-01"),
            ),
        )
        assertEquals("infusion", (rule.schedule as ReminderSchedule.AfterEvent).event, "kinds are lowercase")
        assertEquals(listOf(), reminders.events())
        val sessionAt = local("2026-04-10T14:00", zone)
        assertEquals(listOf(), reminders.plan(sessionAt, zone, androidLimits(true), 7).notifications)

        val event = reminders.recordEvent("infusion", sessionAt, zone)
        assertTrue(event.id.value.matches(Regex("[0-9a-f]{32}")))
        assertEquals(ReminderEvent(event.id, "infusion", sessionAt, zone), event)
        val unrelated = reminders.recordEvent("massage", sessionAt + HOUR, PARIS)
        assertEquals(listOf(event, unrelated), reminders.events())

        val plan = reminders.plan(sessionAt, zone, androidLimits(true), 7).notifications
        assertEquals(
            listOf(sessionAt + 120 * MINUTE, local("2026-04-11T09:00", zone), local("2026-04-13T20:00", zone)),
            plan.map { it.fireAt },
        )
        assertEquals((0..2).map { "${rule.id}:e${event.id}:$it" }, plan.map { it.occurrence })
        assertTrue(plan.all { it.category == ReminderCategory.POST_SESSION && it.title == "After your session" })
        assertEquals(plan, reminders.occurrences(sessionAt, sessionAt + 7 * DAY, zone).let { occ ->
            plan.filter { n -> occ.any { it.key == n.occurrence && it.fireAt == n.fireAt } }
        })
        // Reported like any other occurrence.
        reminders.report(plan[0].occurrence, plan[0].due, ReminderReport.Done(plan[0].due))
        assertEquals(plan.drop(1), reminders.plan(sessionAt, zone, androidLimits(true), 7).notifications)
        // An event before the rule's start is not followed.
        reminders.recordEvent("infusion", local("2026-03-20T14:00", zone), zone)
        assertEquals(3, reminders.occurrences(local("2026-03-01T00:00", zone), local("2026-05-01T00:00", zone), zone).size)
    }

    // --- boundaries -----------------------------------------------------------

    @Test
    fun badInputIsInvalidInput() = runBlocking<Unit> {
        val valid = reminders.add(daily("09:00", start = "2026-05-01"))
        val now = instant("2026-05-10T00:00Z")
        val limits = androidLimits(true)
        fun rule(schedule: ReminderSchedule, start: LocalDate = day("2026-05-01")) =
            NewReminder(ReminderCategory.CHECK_IN, schedule, start)
        fun at(t: LocalTime) = rule(ReminderSchedule.Daily(listOf(t)))
        // Times like 25:00 or 9h and days like 2026-02-30 can no longer be
        // written (LocalTime, LocalDate); what the types still allow:
        val refused = listOf(
            call("a time with seconds") { reminders.add(at(LocalTime.of(9, 0, 30))) },
            call("no times") { reminders.add(daily()) },
            call("25 times") { reminders.add(daily(*Array(25) { "%02d:%02d".format(it % 24, it) })) },
            call("start at LocalDate.MAX") { reminders.add(rule(ReminderSchedule.Daily(times("09:00")), LocalDate.MAX)) },
            call("start far before 1970") { reminders.add(rule(ReminderSchedule.Daily(times("09:00")), LocalDate.of(-5000, 1, 1))) },
            call("once at LocalDate.MIN") { reminders.add(rule(ReminderSchedule.Once(LocalDate.MIN, time("09:00")))) },
            call("end before start") { reminders.add(daily("09:00", start = "2026-05-02", end = "2026-05-01")) },
            call("no weekdays") { reminders.add(rule(ReminderSchedule.Weekly(listOf(), times("09:00")))) },
            call("every 0 days") { reminders.add(rule(ReminderSchedule.EveryNDays(0, times("09:00")))) },
            call("every -3 days") { reminders.add(rule(ReminderSchedule.EveryNDays(-3, times("09:00")))) },
            call("every 366 days") { reminders.add(rule(ReminderSchedule.EveryNDays(366, times("09:00")))) },
            call("month day 0") { reminders.add(rule(ReminderSchedule.MonthDay(0, times("09:00")))) },
            call("month day -1") { reminders.add(rule(ReminderSchedule.MonthDay(-1, times("09:00")))) },
            call("month day 32") { reminders.add(rule(ReminderSchedule.MonthDay(32, times("09:00")))) },
            call("window ends first") { reminders.add(rule(ReminderSchedule.Window(time("16:00"), time("14:00"), listOf()))) },
            call("empty window") { reminders.add(rule(ReminderSchedule.Window(time("14:00"), time("14:00"), listOf()))) },
            call("no steps") { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf()))) },
            call("event kind with space") { reminders.add(rule(ReminderSchedule.AfterEvent("an infusion", listOf(ReminderStep.After(5))))) },
            call("step after 31 days") { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.After(31 * 24 * 60))))) },
            call("step -5 minutes after") { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.After(-5))))) },
            call("step on day 366") { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.DayAt(366, time("09:00")))))) },
            call("step on day -1") { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.DayAt(-1, time("09:00")))))) },
            call("step at 09:00:30") { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.DayAt(1, LocalTime.of(9, 0, 30)))))) },
            call("count 0") { reminders.add(daily("09:00").copy(count = 0)) },
            call("count -1") { reminders.add(daily("09:00").copy(count = -1)) },
            call("grace over 7 days") { reminders.add(daily("09:00").copy(graceMinutes = 7 * 24 * 60 + 1)) },
            call("grace -1") { reminders.add(daily("09:00").copy(graceMinutes = -1)) },
            call("title of 121 characters") { reminders.add(daily("09:00", title = "t".repeat(121))) },
            call("title with NUL") { reminders.add(daily("09:00", title = "a\u0000b")) },
            call("update with a time with seconds") { reminders.update(valid.id, at(LocalTime.of(9, 0, 1))) },
            call("update of a malformed id") { reminders.update(ReminderId("not-an-id"), daily("09:00")) },
            call("get of a malformed id") { reminders.get(ReminderId("NOT-HEX")) },
            call("delete of a malformed id") { reminders.delete(ReminderId("'; DROP TABLE reminders; --")) },
            call("plan with horizon 0") { reminders.plan(now, UTC, limits, 0).notifications },
            call("plan with horizon -1") { reminders.plan(now, UTC, limits, -1).notifications },
            call("plan with horizon 63") { reminders.plan(now, UTC, limits, 63).notifications },
            call("plan with no room") { reminders.plan(now, UTC, limits.copy(maxPending = 0), 7).notifications },
            call("plan with negative room") { reminders.plan(now, UTC, limits.copy(maxPending = -1), 7).notifications },
            call("plan with a negative window") { reminders.plan(now, UTC, androidLimits(false).copy(inexactWindowMinutes = -10), 7) },
            call("plan at Instant.MAX") { reminders.plan(Instant.MAX, UTC, limits, 7).notifications },
            call("occurrences backwards") { reminders.occurrences(now, now.minusMillis(1), UTC) },
            call("occurrences over 400 days") { reminders.occurrences(now, now + 401 * DAY, UTC) },
            call("occurrences over all of time") { reminders.occurrences(Instant.MIN, Instant.MAX, UTC) },
            call("occurrences from MAX to MIN") { reminders.occurrences(Instant.MAX, Instant.MIN, UTC) },
            call("adherence at Instant.MIN") { reminders.adherence(Instant.MIN, now, now, UTC) },
            call("event kind empty") { reminders.recordEvent("", now, UTC) },
            call("event kind too long") { reminders.recordEvent("k".repeat(33), now, UTC) },
            call("event at Instant.MAX") { reminders.recordEvent("infusion", Instant.MAX, UTC) },
            call("quiet hours ending at 23:59:59") { reminders.setQuietHours(QuietHours(time("22:00"), LocalTime.of(23, 59, 59))) },
            call("report garbage key") { reminders.report("garbage", now, ReminderReport.Shown(now)) },
            call("report empty key") { reminders.report("", now, ReminderReport.Shown(now)) },
            call("report key of two parts") { reminders.report("${valid.id}:2026-05-10", now, ReminderReport.Shown(now)) },
            call("report key of four parts") { reminders.report("${valid.id}:2026-05-10:0:1", now, ReminderReport.Shown(now)) },
            call("report key with a bad rule id") { reminders.report("xyz:2026-05-10:0", now, ReminderReport.Done(now)) },
            call("report key with spaces") { reminders.report("${valid.id}:2026 05 10:0", now, ReminderReport.Done(now)) },
            call("report key of 10 KB") { reminders.report("${valid.id}:${"9".repeat(10_000)}:0", now, ReminderReport.Done(now)) },
            call("report snoozed into the past") { reminders.report("${valid.id}:2026-05-10:0", now, ReminderReport.Snoozed(now - MINUTE)) },
        )
        for ((what, call) in refused) {
            val e = assertFailsWith<CairnException.InvalidInput>(what) { call() }
            assertTrue(e.message.isNotBlank(), what)
            assertTrue(e.field.isNotBlank(), what)
        }
        // A zone the database lacks is UnknownZone, naming the argument.
        val unknownZones = listOf(
            call("zone") { reminders.add(daily("09:00", zone = MARS)) },
            call("zone") { reminders.add(daily("09:00", zone = FakeZones.of(FakeZones.TRAVERSAL))) },
            call("deviceZone") { reminders.plan(now, MARS, limits, 7).notifications },
            call("deviceZone") { reminders.occurrences(now, now + DAY, MARS) },
            call("deviceZone") { reminders.adherence(now - DAY, now, now, MARS) },
            call("zone") { reminders.recordEvent("infusion", now, MARS) },
        )
        for ((field, call) in unknownZones) {
            assertEquals(field, assertFailsWith<CairnException.UnknownZone>(field) { call() }.field)
        }
        // Nothing was stored by the refused calls; the store still works.
        assertEquals(listOf(valid), reminders.list().reminders)
        assertEquals(listOf(), reminders.events())
        assertNull(reminders.quietHours())
        assertFailsWith<CairnException.NotFound> { reminders.get(ReminderId("0".repeat(32))) }
        assertEquals(62, reminders.plan(now, UTC, limits, 62).notifications.size)
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun errorMessagesDoNotRepeatTitlesOrKeys() = runBlocking<Unit> {
        val secret = "Sam hurt me again"
        val refused = listOf(
            call("title too long") { reminders.add(daily("09:00", title = "$secret ".repeat(10))) },
            call("zone named with text") { reminders.add(daily("09:00", zone = FakeZones.of(FakeZones.SECRET), title = secret)) },
            call("bad time with a title") { reminders.add(daily("09:00", title = secret).copy(schedule = ReminderSchedule.Daily(listOf(LocalTime.of(9, 0, 1))))) },
            call("event kind named with text") { reminders.recordEvent(secret, now(), UTC) },
            call("garbage key") { reminders.report(secret, now(), ReminderReport.Done(now())) },
        )
        for ((what, call) in refused) {
            val e = assertFailsWith<CairnException>(what) { call() }
            assertFalse(e.message.orEmpty().contains("Sam hurt") || e.message.orEmpty().contains("Sam_hurt"), "$what: ${e.message}")
        }
    }

    @Test
    fun remindersAfterCloseJournalRaiseClosed() = runBlocking<Unit> {
        val rule = reminders.add(daily("09:00", start = "2026-05-01"))
        val now = instant("2026-05-10T00:00Z")
        val plan = reminders.plan(now, UTC, androidLimits(true), 2).notifications
        journal.closeJournal()
        val calls = listOf(
            call("journal.reminders") { journal.reminders() },
            call("add") { reminders.add(daily("10:00")) },
            call("update") { reminders.update(rule.id, daily("10:00")) },
            call("get") { reminders.get(rule.id) },
            call("list") { reminders.list().reminders },
            call("delete") { reminders.delete(rule.id) },
            call("recordEvent") { reminders.recordEvent("infusion", now, UTC) },
            call("events") { reminders.events() },
            call("setQuietHours") { reminders.setQuietHours(QuietHours(time("22:00"), time("07:00"))) },
            call("quietHours") { reminders.quietHours() },
            call("report") { reminders.report(plan[0].occurrence, plan[0].due, ReminderReport.Shown(now)) },
            call("reportBlocking") { reminders.reportBlocking(plan[0].occurrence, plan[0].due, ReminderReport.Shown(now)) },
            call("plan") { reminders.plan(now, UTC, androidLimits(true), 2).notifications },
            call("planBlocking") { reminders.planBlocking(now, UTC, androidLimits(true), 2).notifications },
            call("occurrences") { reminders.occurrences(now, now + DAY, UTC) },
            call("adherence") { reminders.adherence(now - DAY, now, now, UTC) },
        )
        for ((name, call) in calls) assertFailsWith<CairnException.Closed>(name) { call() }
        // The free functions need no journal.
        assertEquals(64, iosLimits().maxPending)
        assertEquals("cairn-", notificationIdPrefix())
        assertFalse(androidLimits(false).exactAlarms)
        assertEquals(PlanDiff(listOf(), listOf()), diffPlan(plan, plan.map { it.id }))
        // Releasing the handle after its journal closed is fine.
        reminders.close()
        reminders.close()
    }
}
