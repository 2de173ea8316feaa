package app.cairn

import org.junit.After
import org.junit.Before
import org.junit.Test
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

/** ms of an ISO instant with its offset, e.g. `2026-03-08T03:30-04:00`. */
fun instantMs(iso: String): Long = OffsetDateTime.parse(iso).toInstant().toEpochMilli()

/** ms of a local date-time (`2026-06-10T09:00`) in an IANA zone. */
fun localMs(local: String, zone: String): Long =
    LocalDateTime.parse(local).atZone(ZoneId.of(zone)).toInstant().toEpochMilli()

/** The wall-clock time of [ms] in [zone]. */
fun localTime(ms: Long, zone: String): LocalTime = Instant.ofEpochMilli(ms).atZone(ZoneId.of(zone)).toLocalTime()

fun localDate(ms: Long, zone: String): LocalDate = Instant.ofEpochMilli(ms).atZone(ZoneId.of(zone)).toLocalDate()

/** A daily check-in rule with the FFI's defaults. */
fun daily(
    vararg times: String,
    start: String = "2026-01-01",
    zone: String? = null,
    title: String? = null,
    showTitle: Boolean = false,
    quiet: QuietPolicy? = null,
    category: ReminderCategory = ReminderCategory.CHECK_IN,
    end: String? = null,
) = NewReminder(
    category = category,
    schedule = ReminderSchedule.Daily(times.toList()),
    start = start,
    zone = zone,
    end = end,
    title = title,
    showTitle = showTitle,
    quiet = quiet,
)

/**
 * The reminders API (`journal.reminders()` and the free functions
 * `iosLimits`, `androidLimits`, `diffPlan`), method by method, on real SQLite
 * files and the host's tz database. Every date is fixed; `plan` takes its
 * `nowMs` explicitly.
 */
class ReminderTest {
    private lateinit var tmp: TempFolder
    private lateinit var journal: Journal
    private lateinit var reminders: Reminders

    @Before
    fun setUp() {
        tmp = TempFolder()
        journal = Journal.create(tmp.path(), generateKey())
        reminders = journal.reminders()
    }

    @After
    fun tearDown() {
        reminders.close()
        journal.closeJournal()
        journal.close()
        tmp.delete()
    }

    // --- rules ----------------------------------------------------------------

    @Test
    fun addGetListUpdateDelete() {
        val added = reminders.add(daily("20:00", "08:00", "08:00", title = "Evening pills", category = ReminderCategory.MEDICATION))
        assertTrue(added.id.matches(Regex("[0-9a-f]{32}")), added.id)
        assertEquals(1L, added.revision)
        assertEquals(ReminderCategory.MEDICATION, added.category)
        // Times come back sorted and de-duplicated, as HH:MM.
        assertEquals(ReminderSchedule.Daily(listOf("08:00", "20:00")), added.schedule)
        assertEquals("2026-01-01", added.start)
        assertNull(added.zone)
        assertNull(added.end)
        assertNull(added.count)
        assertEquals("Evening pills", added.title)
        assertFalse(added.showTitle)
        assertEquals(QuietPolicy.DEFER, added.quiet, "no policy given: defer")
        assertEquals(60u, added.graceMinutes)
        assertTrue(added.enabled)
        assertEquals(added, reminders.get(added.id))
        assertEquals(listOf(added), reminders.list().reminders)

        val second = reminders.add(daily("12:00", zone = "Europe/Paris", quiet = QuietPolicy.IGNORE))
        assertEquals(listOf(added.id, second.id), reminders.list().reminders.map { it.id }, "in the order added")
        assertEquals("Europe/Paris", second.zone)
        assertEquals(QuietPolicy.IGNORE, second.quiet)

        val changed = reminders.update(
            added.id,
            NewReminder(
                category = ReminderCategory.MEDICATION,
                schedule = ReminderSchedule.Daily(listOf("21:15")),
                start = "2026-02-01",
                end = "2026-03-01",
                count = 10u,
                graceMinutes = 30u,
                enabled = false,
            ),
        )
        assertEquals(added.id, changed.id)
        assertEquals(2L, changed.revision)
        assertEquals(ReminderSchedule.Daily(listOf("21:15")), changed.schedule)
        assertEquals("2026-03-01", changed.end)
        assertEquals(10u, changed.count)
        assertEquals(30u, changed.graceMinutes)
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
    fun everyScheduleKindRoundTripsAndExpands() {
        val zone = "Europe/Paris"
        fun add(schedule: ReminderSchedule, start: String = "2026-04-01") =
            reminders.add(NewReminder(ReminderCategory.JOURNALING, schedule, start, zone = zone))

        val weekly = add(ReminderSchedule.Weekly(listOf(Weekday.FRI, Weekday.MON, Weekday.MON), listOf("18:00")))
        assertEquals(ReminderSchedule.Weekly(listOf(Weekday.MON, Weekday.FRI), listOf("18:00")), weekly.schedule)
        val everyThree = add(ReminderSchedule.EveryNDays(3.toUShort(), listOf("07:45")), start = "2026-04-02")
        val monthEnd = add(ReminderSchedule.MonthDay(31.toUByte(), listOf("10:00")))
        val once = add(ReminderSchedule.Once("2026-04-15", "16:20"))
        assertEquals("2026-04-15", once.start, "a one-off starts on its date")
        val window = add(ReminderSchedule.Window("14:00", "16:00", listOf()))
        val after = add(
            ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.After(90u), ReminderStep.DayAt(2.toUShort(), "09:30"))),
        )
        for (r in listOf(weekly, everyThree, monthEnd, once, window, after)) assertEquals(r, reminders.get(r.id))

        // April 2026: the 1st is a Wednesday.
        val from = localMs("2026-04-01T00:00", zone)
        val to = localMs("2026-05-01T00:00", zone)
        val occ = reminders.occurrences(from, to, "UTC")
        assertEquals(occ.sortedBy { it.fireMs }, occ, "in time order")
        fun of(r: Reminder) = occ.filter { it.reminderId == r.id }
        fun dates(r: Reminder) = of(r).map { localDate(it.fireMs, zone).toString() }

        assertEquals(
            listOf("2026-04-03", "2026-04-06", "2026-04-10", "2026-04-13", "2026-04-17", "2026-04-20", "2026-04-24", "2026-04-27"),
            dates(weekly),
        )
        assertEquals((2..29 step 3).map { "2026-04-%02d".format(it) }, dates(everyThree))
        assertEquals(listOf("2026-04-30"), dates(monthEnd), "April has no 31st: its last day")
        assertEquals(listOf(localMs("2026-04-15T16:20", zone)), of(once).map { it.fireMs })
        assertEquals(30, of(window).size)
        for (o in of(window)) {
            val t = localTime(o.fireMs, zone)
            assertTrue(t >= LocalTime.of(14, 0) && t < LocalTime.of(16, 0), "$t")
            assertEquals(0, t.second)
        }
        assertTrue(of(window).map { localTime(it.fireMs, zone) }.toSet().size > 1, "a window moves from day to day")
        assertEquals(of(window), reminders.occurrences(from, to, "UTC").filter { it.reminderId == window.id }, "reproducible")
        assertEquals(listOf(), of(after), "no event recorded yet")
        // Keys: rule:date:slot, with the offset in force.
        val first = of(weekly).first()
        assertEquals("${weekly.id}:2026-04-03:0", first.key)
        assertEquals(2 * 3600, first.utcOffsetSeconds)

        // A count limits the occurrences; a disabled rule has none.
        val counted = reminders.add(NewReminder(ReminderCategory.CHECK_IN, ReminderSchedule.Daily(listOf("09:00", "21:00")), "2026-04-01", count = 3u))
        assertEquals(3, reminders.occurrences(from, to, zone).count { it.reminderId == counted.id })
        reminders.update(counted.id, NewReminder(ReminderCategory.CHECK_IN, ReminderSchedule.Daily(listOf("09:00")), "2026-04-01", enabled = false))
        assertEquals(0, reminders.occurrences(from, to, zone).count { it.reminderId == counted.id })
        assertEquals(listOf(), reminders.plan(from, zone, androidLimits(true), 30u).notifications.filter { it.reminderId == counted.id })
    }

    // --- time semantics -------------------------------------------------------

    @Test
    fun springForwardGapShiftsByTheGap() {
        val ny = "America/New_York"
        val rule = reminders.add(daily("02:30", start = "2026-03-07", end = "2026-03-09", zone = ny))
        val occ = reminders.occurrences(instantMs("2026-03-06T00:00Z"), instantMs("2026-03-11T00:00Z"), "Europe/Lisbon")
        assertEquals(
            listOf(
                instantMs("2026-03-07T02:30-05:00"),
                instantMs("2026-03-08T03:30-04:00"), // 02:30 does not exist that day
                instantMs("2026-03-09T02:30-04:00"),
            ),
            occ.map { it.fireMs },
        )
        assertEquals(listOf(-5 * 3600, -4 * 3600, -4 * 3600), occ.map { it.utcOffsetSeconds })
        assertEquals("${rule.id}:2026-03-08:0", occ[1].key, "keyed by the local date it belongs to")

        val plan = reminders.plan(instantMs("2026-03-07T12:00Z"), "Europe/Lisbon", iosLimits(), 3u).notifications
        assertEquals(listOf(occ[1].fireMs, occ[2].fireMs), plan.map { it.fireAtMs })
        val n = plan.first()
        assertEquals(instantMs("2026-03-08T03:30-04:00"), n.fireAtMs)
        assertEquals(n.fireAtMs, n.dueMs)
        assertEquals(-4 * 3600, n.utcOffsetSeconds)
        assertEquals(LocalTime.of(3, 30), localTime(n.fireAtMs, ny))
        assertEquals(occ[1].key, n.occurrence)
    }

    @Test
    fun fallBackOverlapFiresOnceAtTheFirst() {
        val ny = "America/New_York"
        reminders.add(daily("01:30", start = "2026-10-31", end = "2026-11-02", zone = ny))
        val occ = reminders.occurrences(instantMs("2026-10-30T00:00Z"), instantMs("2026-11-04T00:00Z"), "UTC")
        assertEquals(
            listOf(
                instantMs("2026-10-31T01:30-04:00"),
                instantMs("2026-11-01T01:30-04:00"), // EDT, not again at 01:30 EST
                instantMs("2026-11-02T01:30-05:00"),
            ),
            occ.map { it.fireMs },
        )
        assertEquals(1, occ.count { localDate(it.fireMs, ny) == LocalDate.of(2026, 11, 1) })
        assertEquals(-4 * 3600, occ[1].utcOffsetSeconds)

        val plan = reminders.plan(instantMs("2026-10-31T12:00Z"), "UTC", androidLimits(true), 3u).notifications
        assertEquals(listOf(instantMs("2026-11-01T01:30-04:00"), instantMs("2026-11-02T01:30-05:00")), plan.map { it.fireAtMs })
    }

    @Test
    fun followDeviceKeepsLocalTimeWhilePinnedKeepsItsZone() {
        val follow = reminders.add(daily("09:00", start = "2026-06-01"))
        val pinned = reminders.add(daily("09:00", start = "2026-06-01", zone = "America/Chicago"))
        val now = instantMs("2026-06-10T00:00Z")
        fun plan(device: String) = reminders.plan(now, device, androidLimits(true), 2u).notifications

        val inChicago = plan("America/Chicago")
        val inLisbon = plan("Europe/Lisbon")
        for (n in inChicago) assertEquals(LocalTime.of(9, 0), localTime(n.fireAtMs, "America/Chicago"))
        val followLisbon = inLisbon.filter { it.reminderId == follow.id }
        val pinnedLisbon = inLisbon.filter { it.reminderId == pinned.id }
        assertEquals(2, followLisbon.size)
        for (n in followLisbon) {
            assertEquals(LocalTime.of(9, 0), localTime(n.fireAtMs, "Europe/Lisbon"))
            assertEquals(3600, n.utcOffsetSeconds)
        }
        for (n in pinnedLisbon) {
            assertEquals(LocalTime.of(15, 0), localTime(n.fireAtMs, "Europe/Lisbon"), "09:00 in Chicago")
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
    fun iosLimitKeepsSixtyFourFairSortedAndGeneric() {
        val limits = iosLimits()
        assertEquals(PlatformLimits(maxPending = 64u, exactAlarms = true, inexactWindowMinutes = 10u), limits)
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
        val plan = reminders.plan(localMs("2026-05-10T07:00", "Europe/Paris"), "Europe/Paris", limits, 7u).notifications
        assertEquals(64, plan.size)
        assertEquals(rules.map { it.id }.toSet(), plan.map { it.reminderId }.toSet(), "every rule present")
        assertEquals(plan.sortedBy { it.fireAtMs }, plan, "sorted by time")
        assertEquals(64, plan.map { it.id }.toSet().size)
        assertEquals(64, plan.map { it.occurrence }.toSet().size)
        // Fair: each rule's first occurrence (08:00), then 14 second ones (13:00).
        assertEquals(50, plan.count { localTime(it.fireAtMs, "Europe/Paris") == LocalTime.of(8, 0) })
        assertEquals(14, plan.count { localTime(it.fireAtMs, "Europe/Paris") == LocalTime.of(13, 0) })
        val optedIn = rules[7].id
        for (n in plan) {
            assertTrue(n.exact)
            assertEquals(0u, n.windowMinutes)
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
        assertEquals(plan, reminders.plan(localMs("2026-05-10T07:00", "Europe/Paris"), "Europe/Paris", limits, 7u).notifications)
        assertEquals("cairn-", notificationIdPrefix())
    }

    @Test
    fun changingTheTextChangesTheId() {
        val rule = reminders.add(daily("09:00", start = "2026-05-01", title = "Lithium"))
        val now = instantMs("2026-05-10T00:00Z")
        val generic = reminders.plan(now, "UTC", androidLimits(true), 1u).notifications.single()
        assertEquals("Time for your check-in", generic.title)
        // Opting in to the title: same occurrence and time, new text, new id,
        // so the diff replaces the notification the OS holds.
        reminders.update(rule.id, daily("09:00", start = "2026-05-01", title = "Lithium", showTitle = true))
        val titled = reminders.plan(now, "UTC", androidLimits(true), 1u).notifications.single()
        assertEquals("Lithium", titled.title)
        assertEquals(generic.occurrence, titled.occurrence)
        assertEquals(generic.fireAtMs, titled.fireAtMs)
        assertNotEquals(generic.id, titled.id)
        assertEquals(PlanDiff(listOf(titled), listOf(generic.id)), diffPlan(listOf(titled), listOf(generic.id)))
        // Another category: other generic text, another id.
        reminders.update(rule.id, daily("09:00", start = "2026-05-01", category = ReminderCategory.MEDICATION))
        val medication = reminders.plan(now, "UTC", androidLimits(true), 1u).notifications.single()
        assertEquals("Reminder", medication.title)
        assertNotEquals(generic.id, medication.id)
    }

    @Test
    fun androidWithoutExactAlarmsPlansWindows() {
        val inexact = androidLimits(false)
        assertFalse(inexact.exactAlarms)
        assertTrue(inexact.inexactWindowMinutes >= 10u)
        assertTrue(inexact.maxPending > 64u)
        val exact = androidLimits(true)
        assertTrue(exact.exactAlarms)
        reminders.add(daily("08:00", "20:00", start = "2026-05-01"))
        reminders.add(daily("12:00", start = "2026-05-01", zone = "Asia/Tokyo"))
        val now = instantMs("2026-05-10T00:00Z")
        val windows = reminders.plan(now, "Europe/Berlin", inexact, 7u).notifications
        assertEquals(21, windows.size)
        for (n in windows) {
            assertFalse(n.exact)
            assertTrue(n.windowMinutes >= 10u, "${n.windowMinutes}")
            assertTrue(n.fireAtMs >= now)
        }
        val exacts = reminders.plan(now, "Europe/Berlin", exact, 7u).notifications
        assertEquals(windows.map { it.id }, exacts.map { it.id }, "exactness is not part of the id")
        assertTrue(exacts.all { it.exact && it.windowMinutes == 0u })
        // A tighter limit of the caller's own.
        assertEquals(5, reminders.plan(now, "Europe/Berlin", exact.copy(maxPending = 5u), 7u).notifications.size)
        // Horizon: 1 to 62 days.
        assertEquals(3, reminders.plan(now, "Europe/Berlin", exact, 1u).notifications.size)
        assertEquals(62 * 3, reminders.plan(now, "Europe/Berlin", exact, 62u).notifications.size)
    }

    @Test
    fun diffPlanAgainstHeldIds() {
        val rule = reminders.add(daily("09:00", "18:00", start = "2026-05-01"))
        val now = instantMs("2026-05-10T00:00Z")
        val plan = reminders.plan(now, "UTC", androidLimits(true), 3u).notifications
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
        val moved = reminders.plan(now, "UTC", androidLimits(true), 3u).notifications
        val md = diffPlan(moved, ids)
        assertEquals(moved.filter { localTime(it.fireAtMs, "UTC") == LocalTime.of(9, 30) }, md.add)
        assertEquals(plan.filter { localTime(it.fireAtMs, "UTC") == LocalTime.of(9, 0) }.map { it.id }.sorted(), md.remove)
        // Deleting it removes the rest.
        reminders.delete(rule.id)
        assertEquals(PlanDiff(listOf(), moved.map { it.id }.sorted()), diffPlan(reminders.plan(now, "UTC", androidLimits(true), 3u).notifications, moved.map { it.id }))
    }

    @Test
    fun quietHoursDeferOrSkip() {
        val zone = "Europe/Paris"
        assertNull(reminders.quietHours())
        reminders.setQuietHours(QuietHours("22:00", "07:00"))
        assertEquals(QuietHours("22:00", "07:00"), reminders.quietHours())

        val deferred = reminders.add(daily("23:00", start = "2026-06-01", quiet = QuietPolicy.DEFER))
        val skipped = reminders.add(daily("23:30", start = "2026-06-01", quiet = QuietPolicy.SKIP))
        val ignored = reminders.add(daily("23:15", start = "2026-06-01", quiet = QuietPolicy.IGNORE))
        val outside = reminders.add(daily("21:59", "07:00", start = "2026-06-01", quiet = QuietPolicy.SKIP))
        // 05:00 would be deferred to 07:00, past the rule's 06:00: skipped;
        // 06:00 is deferred to 07:00.
        val crowded = reminders.add(daily("05:00", "06:00", start = "2026-06-01"))

        val now = localMs("2026-06-10T12:00", zone)
        val plan = reminders.plan(now, zone, androidLimits(true), 2u).notifications
        fun of(r: Reminder) = plan.filter { it.reminderId == r.id }

        assertEquals(2, of(deferred).size)
        for (n in of(deferred)) {
            assertEquals(LocalTime.of(23, 0), localTime(n.dueMs, zone))
            assertEquals(LocalTime.of(7, 0), localTime(n.fireAtMs, zone))
            assertEquals(localDate(n.dueMs, zone).plusDays(1), localDate(n.fireAtMs, zone))
        }
        assertEquals(listOf(), of(skipped))
        assertEquals(listOf(LocalTime.of(23, 15), LocalTime.of(23, 15)), of(ignored).map { localTime(it.fireAtMs, zone) })
        assertEquals(
            listOf(LocalTime.of(21, 59), LocalTime.of(7, 0), LocalTime.of(21, 59), LocalTime.of(7, 0)),
            of(outside).map { localTime(it.fireAtMs, zone) },
            "quiet hours end at 07:00 (exclusive) and start at 22:00",
        )
        assertEquals(listOf(LocalTime.of(7, 0), LocalTime.of(7, 0)), of(crowded).map { localTime(it.fireAtMs, zone) })
        assertEquals(listOf(LocalTime.of(6, 0), LocalTime.of(6, 0)), of(crowded).map { localTime(it.dueMs, zone) })

        // Quiet hours are in the device's zone.
        val inTokyo = reminders.plan(now, "Asia/Tokyo", androidLimits(true), 2u).notifications
        assertTrue(inTokyo.filter { it.reminderId == skipped.id }.isEmpty())
        assertTrue(inTokyo.filter { it.reminderId == deferred.id }.all { localTime(it.fireAtMs, "Asia/Tokyo") == LocalTime.of(7, 0) })

        reminders.setQuietHours(null)
        assertNull(reminders.quietHours())
        val free = reminders.plan(now, zone, androidLimits(true), 2u).notifications
        assertEquals(listOf(LocalTime.of(23, 30), LocalTime.of(23, 30)), free.filter { it.reminderId == skipped.id }.map { localTime(it.fireAtMs, zone) })
        assertTrue(free.all { it.fireAtMs == it.dueMs })
        // A daytime range does not wrap.
        reminders.setQuietHours(QuietHours("12:30", "14:00"))
        assertEquals(QuietHours("12:30", "14:00"), reminders.quietHours())
    }

    // --- lifecycle and adherence ----------------------------------------------

    @Test
    fun reportsDriveThePlanAndAdherence() {
        val zone = "Europe/Paris"
        val rule = reminders.add(daily("09:00", start = "2026-05-01"))
        val other = reminders.add(daily("12:00", start = "2026-05-01", category = ReminderCategory.JOURNALING))
        val occ = reminders.occurrences(localMs("2026-05-01T00:00", zone), localMs("2026-05-06T00:00", zone), zone)
            .filter { it.reminderId == rule.id }
        assertEquals(5, occ.size)
        fun nine(day: Int) = localMs("2026-05-%02dT09:00".format(day), zone)
        assertEquals((1..5).map(::nine), occ.map { it.fireMs })

        // Day 1: shown on time and done. Day 2: shown 10 minutes late and
        // skipped. Day 3: shown, snoozed to 09:30, nothing more. Day 4:
        // nothing at all. Day 5: shown, still within its grace period.
        reminders.report(occ[0].key, occ[0].fireMs, ReminderReport.Shown(nine(1) + 1_000))
        reminders.report(occ[0].key, occ[0].fireMs, ReminderReport.Done(nine(1) + 5 * MINUTE_MS))
        reminders.report(occ[1].key, occ[1].fireMs, ReminderReport.Shown(nine(2) + 10 * MINUTE_MS))
        reminders.report(occ[1].key, occ[1].fireMs, ReminderReport.Skipped(nine(2) + 11 * MINUTE_MS))
        reminders.report(occ[2].key, occ[2].fireMs, ReminderReport.Shown(nine(3)))
        reminders.report(occ[2].key, occ[2].fireMs, ReminderReport.Snoozed(nine(3) + 30 * MINUTE_MS))
        reminders.report(occ[4].key, occ[4].fireMs, ReminderReport.Shown(nine(5) + 2 * MINUTE_MS))
        // A later, repeated "shown" keeps the first.
        reminders.report(occ[4].key, occ[4].fireMs, ReminderReport.Shown(nine(5) + 20 * MINUTE_MS))

        val report = reminders.adherence(
            localMs("2026-05-01T00:00", zone),
            localMs("2026-05-06T00:00", zone),
            nine(5) + 30 * MINUTE_MS,
            zone,
        )
        val mine = report.rules.single { it.key == rule.id }
        assertEquals(
            Adherence(key = rule.id, due = 5u, shown = 4u, late = 1u, notShown = 1u, done = 1u, skipped = 1u, missed = 2u),
            mine,
        )
        // The other rule: four noons due, none reported, all missed.
        assertEquals(Adherence(other.id, 4u, 0u, 0u, 4u, 0u, 0u, 4u), report.rules.single { it.key == other.id })
        assertEquals(
            listOf(
                Adherence("check_in", 5u, 4u, 1u, 1u, 1u, 1u, 2u),
                Adherence("journaling", 4u, 0u, 0u, 4u, 0u, 0u, 4u),
            ),
            report.categories,
        )
        // `to` after `now`: only what was due by now counts.
        val early = reminders.adherence(localMs("2026-05-01T00:00", zone), localMs("2026-06-01T00:00", zone), nine(2) + MINUTE_MS, zone)
        assertEquals(2u, early.rules.single { it.key == rule.id }.due)
        val empty = reminders.adherence(nine(1), nine(1), nine(10), zone)
        assertTrue(empty.rules.all { it.due == 0u })
        // A paused rule owes nothing: it leaves the report.
        reminders.update(other.id, daily("12:00", start = "2026-05-01", category = ReminderCategory.JOURNALING).copy(enabled = false))
        val paused = reminders.adherence(localMs("2026-05-01T00:00", zone), localMs("2026-05-06T00:00", zone), nine(5) + 30 * MINUTE_MS, zone)
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
    fun snoozeMovesTheNotificationAndDoneRemovesIt() {
        val zone = "Europe/Paris"
        val rule = reminders.add(daily("09:00", start = "2026-05-01"))
        val now = localMs("2026-05-10T08:00", zone)
        val before = reminders.plan(now, zone, androidLimits(true), 2u).notifications
        val first = before.first()
        assertEquals(localMs("2026-05-10T09:00", zone), first.fireAtMs)

        val until = first.dueMs + 10 * MINUTE_MS
        reminders.report(first.occurrence, first.dueMs, ReminderReport.Snoozed(until))
        val snoozed = reminders.plan(now, zone, androidLimits(true), 2u).notifications
        val again = snoozed.single { it.occurrence == first.occurrence }
        assertEquals(until, again.fireAtMs)
        assertEquals(first.dueMs, again.dueMs)
        assertNotEquals(first.id, again.id, "moved: a new id")
        val d = diffPlan(snoozed, before.map { it.id })
        assertEquals(listOf(again), d.add)
        assertEquals(listOf(first.id), d.remove)
        // Even after its original time, the snoozed one is still planned.
        assertEquals(again, reminders.plan(first.dueMs + 5 * MINUTE_MS, zone, androidLimits(true), 2u).notifications.first())

        // Snoozing to before it was due is refused.
        assertFailsWith<CairnException.InvalidInput> {
            reminders.report(first.occurrence, first.dueMs, ReminderReport.Snoozed(first.dueMs))
        }
        reminders.report(first.occurrence, first.dueMs, ReminderReport.Done(first.dueMs + 12 * MINUTE_MS))
        val done = reminders.plan(now, zone, androidLimits(true), 2u).notifications
        assertTrue(done.none { it.occurrence == first.occurrence })
        assertEquals(before.drop(1), done)
        // Skipped ones leave the plan too.
        val next = done.first()
        reminders.report(next.occurrence, next.dueMs, ReminderReport.Skipped(now))
        assertTrue(reminders.plan(now, zone, androidLimits(true), 2u).notifications.none { it.occurrence == next.occurrence })
        assertEquals(rule.id, next.reminderId)
    }

    @Test
    fun afterEventRuleFollowsRecordedEvents() {
        val zone = "Europe/Paris"
        val rule = reminders.add(
            NewReminder(
                category = ReminderCategory.POST_SESSION,
                schedule = ReminderSchedule.AfterEvent(
                    "Infusion",
                    listOf(ReminderStep.After(120u), ReminderStep.DayAt(1.toUShort(), "09:00"), ReminderStep.DayAt(3.toUShort(), "20:00")),
                ),
                start = "2026-04-01",
            ),
        )
        assertEquals("infusion", (rule.schedule as ReminderSchedule.AfterEvent).event, "kinds are lowercase")
        assertEquals(listOf(), reminders.events())
        val sessionAt = localMs("2026-04-10T14:00", zone)
        assertEquals(listOf(), reminders.plan(sessionAt, zone, androidLimits(true), 7u).notifications)

        val event = reminders.recordEvent("infusion", sessionAt, zone)
        assertTrue(event.id.matches(Regex("[0-9a-f]{32}")))
        assertEquals(ReminderEvent(event.id, "infusion", sessionAt, zone), event)
        val unrelated = reminders.recordEvent("massage", sessionAt + HOUR_MS, "Europe/Paris")
        assertEquals(listOf(event, unrelated), reminders.events())

        val plan = reminders.plan(sessionAt, zone, androidLimits(true), 7u).notifications
        assertEquals(
            listOf(sessionAt + 120 * MINUTE_MS, localMs("2026-04-11T09:00", zone), localMs("2026-04-13T20:00", zone)),
            plan.map { it.fireAtMs },
        )
        assertEquals((0..2).map { "${rule.id}:e${event.id}:$it" }, plan.map { it.occurrence })
        assertTrue(plan.all { it.category == ReminderCategory.POST_SESSION && it.title == "After your session" })
        assertEquals(plan, reminders.occurrences(sessionAt, sessionAt + 7 * DAY_MS, zone).let { occ ->
            plan.filter { n -> occ.any { it.key == n.occurrence && it.fireMs == n.fireAtMs } }
        })
        // Reported like any other occurrence.
        reminders.report(plan[0].occurrence, plan[0].dueMs, ReminderReport.Done(plan[0].dueMs))
        assertEquals(plan.drop(1), reminders.plan(sessionAt, zone, androidLimits(true), 7u).notifications)
        // An event before the rule's start is not followed.
        reminders.recordEvent("infusion", localMs("2026-03-20T14:00", zone), zone)
        assertEquals(3, reminders.occurrences(localMs("2026-03-01T00:00", zone), localMs("2026-05-01T00:00", zone), zone).size)
    }

    // --- boundaries -----------------------------------------------------------

    @Test
    fun badInputIsInvalidInput() {
        val valid = reminders.add(daily("09:00", start = "2026-05-01"))
        val now = instantMs("2026-05-10T00:00Z")
        val limits = androidLimits(true)
        fun rule(schedule: ReminderSchedule, start: String = "2026-05-01") = NewReminder(ReminderCategory.CHECK_IN, schedule, start)
        val refused: List<Pair<String, () -> Any?>> = listOf(
            "time 25:00" to { reminders.add(daily("25:00")) },
            "time 24:00" to { reminders.add(daily("24:00")) },
            "time 9h" to { reminders.add(daily("9h")) },
            "no times" to { reminders.add(daily()) },
            "25 times" to { reminders.add(daily(*Array(25) { "%02d:%02d".format(it % 24, it) })) },
            "date 2026-02-30" to { reminders.add(daily("09:00", start = "2026-02-30")) },
            "date 2026/05/01" to { reminders.add(daily("09:00", start = "2026/05/01")) },
            "once on 2026-02-30" to { reminders.add(rule(ReminderSchedule.Once("2026-02-30", "09:00"))) },
            "end before start" to { reminders.add(daily("09:00", start = "2026-05-02", end = "2026-05-01")) },
            "end 2026-13-01" to { reminders.add(daily("09:00", end = "2026-13-01")) },
            "zone Mars/Base" to { reminders.add(daily("09:00", zone = "Mars/Base")) },
            "zone ../etc/passwd" to { reminders.add(daily("09:00", zone = "../../etc/passwd")) },
            "no weekdays" to { reminders.add(rule(ReminderSchedule.Weekly(listOf(), listOf("09:00")))) },
            "every 0 days" to { reminders.add(rule(ReminderSchedule.EveryNDays(0.toUShort(), listOf("09:00")))) },
            "every 366 days" to { reminders.add(rule(ReminderSchedule.EveryNDays(366.toUShort(), listOf("09:00")))) },
            "month day 0" to { reminders.add(rule(ReminderSchedule.MonthDay(0.toUByte(), listOf("09:00")))) },
            "month day 32" to { reminders.add(rule(ReminderSchedule.MonthDay(32.toUByte(), listOf("09:00")))) },
            "window ends first" to { reminders.add(rule(ReminderSchedule.Window("16:00", "14:00", listOf()))) },
            "empty window" to { reminders.add(rule(ReminderSchedule.Window("14:00", "14:00", listOf()))) },
            "no steps" to { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf()))) },
            "event kind with space" to { reminders.add(rule(ReminderSchedule.AfterEvent("an infusion", listOf(ReminderStep.After(5u))))) },
            "step after 31 days" to { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.After(31u * 24u * 60u))))) },
            "step on day 366" to { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.DayAt(366.toUShort(), "09:00"))))) },
            "step at 25:00" to { reminders.add(rule(ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.DayAt(1.toUShort(), "25:00"))))) },
            "count 0" to { reminders.add(NewReminder(ReminderCategory.CHECK_IN, ReminderSchedule.Daily(listOf("09:00")), "2026-05-01", count = 0u)) },
            "grace over 7 days" to { reminders.add(NewReminder(ReminderCategory.CHECK_IN, ReminderSchedule.Daily(listOf("09:00")), "2026-05-01", graceMinutes = 7u * 24u * 60u + 1u)) },
            "title of 121 characters" to { reminders.add(daily("09:00", title = "t".repeat(121))) },
            "title with NUL" to { reminders.add(daily("09:00", title = "a\u0000b")) },
            "update with a bad time" to { reminders.update(valid.id, daily("25:00")) },
            "update of a malformed id" to { reminders.update("not-an-id", daily("09:00")) },
            "get of a malformed id" to { reminders.get("NOT-HEX") },
            "delete of a malformed id" to { reminders.delete("'; DROP TABLE reminders; --") },
            "plan in Mars/Base" to { reminders.plan(now, "Mars/Base", limits, 7u).notifications },
            "plan with horizon 0" to { reminders.plan(now, "UTC", limits, 0u).notifications },
            "plan with horizon 63" to { reminders.plan(now, "UTC", limits, 63u).notifications },
            "plan with no room" to { reminders.plan(now, "UTC", limits.copy(maxPending = 0u), 7u).notifications },
            "plan at Long.MAX_VALUE" to { reminders.plan(Long.MAX_VALUE, "UTC", limits, 7u).notifications },
            "occurrences backwards" to { reminders.occurrences(now, now - 1, "UTC") },
            "occurrences over 400 days" to { reminders.occurrences(now, now + 401 * DAY_MS, "UTC") },
            "occurrences over all of time" to { reminders.occurrences(Long.MIN_VALUE, Long.MAX_VALUE, "UTC") },
            "occurrences from MAX to MIN" to { reminders.occurrences(Long.MAX_VALUE, Long.MIN_VALUE, "UTC") },
            "occurrences in Mars/Base" to { reminders.occurrences(now, now + DAY_MS, "Mars/Base") },
            "adherence in Mars/Base" to { reminders.adherence(now - DAY_MS, now, now, "Mars/Base") },
            "adherence at Long.MIN_VALUE" to { reminders.adherence(Long.MIN_VALUE, now, now, "UTC") },
            "event in Mars/Base" to { reminders.recordEvent("infusion", now, "Mars/Base") },
            "event kind empty" to { reminders.recordEvent("", now, "UTC") },
            "event kind too long" to { reminders.recordEvent("k".repeat(33), now, "UTC") },
            "event at Long.MAX_VALUE" to { reminders.recordEvent("infusion", Long.MAX_VALUE, "UTC") },
            "quiet hours 24:00" to { reminders.setQuietHours(QuietHours("22:00", "24:00")) },
            "quiet hours garbage" to { reminders.setQuietHours(QuietHours("late", "early")) },
            "report garbage key" to { reminders.report("garbage", now, ReminderReport.Shown(now)) },
            "report empty key" to { reminders.report("", now, ReminderReport.Shown(now)) },
            "report key of two parts" to { reminders.report("${valid.id}:2026-05-10", now, ReminderReport.Shown(now)) },
            "report key of four parts" to { reminders.report("${valid.id}:2026-05-10:0:1", now, ReminderReport.Shown(now)) },
            "report key with a bad rule id" to { reminders.report("xyz:2026-05-10:0", now, ReminderReport.Done(now)) },
            "report key with spaces" to { reminders.report("${valid.id}:2026 05 10:0", now, ReminderReport.Done(now)) },
            "report key of 10 KB" to { reminders.report("${valid.id}:${"9".repeat(10_000)}:0", now, ReminderReport.Done(now)) },
            "report snoozed into the past" to { reminders.report("${valid.id}:2026-05-10:0", now, ReminderReport.Snoozed(now - MINUTE_MS)) },
        )
        for ((what, call) in refused) {
            val e = assertFailsWith<CairnException.InvalidInput>(what) { call() }
            assertTrue(e.message!!.isNotBlank(), what)
        }
        // Nothing was stored by the refused calls; the store still works.
        assertEquals(listOf(valid), reminders.list().reminders)
        assertEquals(listOf(), reminders.events())
        assertNull(reminders.quietHours())
        assertFailsWith<CairnException.NotFound> { reminders.get("0".repeat(32)) }
        assertEquals(62, reminders.plan(now, "UTC", limits, 62u).notifications.size)
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun errorMessagesDoNotRepeatTitlesOrKeys() {
        val secret = "Sam hurt me again"
        val refused: List<Pair<String, () -> Any?>> = listOf(
            "title too long" to { reminders.add(daily("09:00", title = "$secret ".repeat(10))) },
            "zone named with text" to { reminders.add(daily("09:00", zone = secret, title = secret)) },
            "bad time with a title" to { reminders.add(daily(secret, title = secret)) },
            "event kind named with text" to { reminders.recordEvent(secret, nowMs(), "UTC") },
            "garbage key" to { reminders.report(secret, nowMs(), ReminderReport.Done(nowMs())) },
        )
        for ((what, call) in refused) {
            val e = assertFailsWith<CairnException>(what) { call() }
            assertFalse(e.message.orEmpty().contains("Sam hurt"), "$what: ${e.message}")
        }
    }

    @Test
    fun remindersAfterCloseJournalRaiseClosed() {
        val rule = reminders.add(daily("09:00", start = "2026-05-01"))
        val now = instantMs("2026-05-10T00:00Z")
        val plan = reminders.plan(now, "UTC", androidLimits(true), 2u).notifications
        journal.closeJournal()
        val calls: List<Pair<String, () -> Any?>> = listOf(
            "journal.reminders" to { journal.reminders() },
            "add" to { reminders.add(daily("10:00")) },
            "update" to { reminders.update(rule.id, daily("10:00")) },
            "get" to { reminders.get(rule.id) },
            "list" to { reminders.list().reminders },
            "delete" to { reminders.delete(rule.id) },
            "recordEvent" to { reminders.recordEvent("infusion", now, "UTC") },
            "events" to { reminders.events() },
            "setQuietHours" to { reminders.setQuietHours(QuietHours("22:00", "07:00")) },
            "quietHours" to { reminders.quietHours() },
            "report" to { reminders.report(plan[0].occurrence, plan[0].dueMs, ReminderReport.Shown(now)) },
            "plan" to { reminders.plan(now, "UTC", androidLimits(true), 2u).notifications },
            "occurrences" to { reminders.occurrences(now, now + DAY_MS, "UTC") },
            "adherence" to { reminders.adherence(now - DAY_MS, now, now, "UTC") },
        )
        for ((name, call) in calls) assertFailsWith<CairnException.Closed>(name) { call() }
        // The free functions need no journal.
        assertEquals(64u, iosLimits().maxPending)
        assertEquals("cairn-", notificationIdPrefix())
        assertFalse(androidLimits(false).exactAlarms)
        assertEquals(PlanDiff(listOf(), listOf()), diffPlan(plan, plan.map { it.id }))
        // Releasing the handle after its journal closed is fine.
        reminders.close()
        reminders.close()
    }
}
