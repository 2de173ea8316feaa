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
import java.time.ZoneId
import java.time.ZoneOffset
import java.time.temporal.ChronoUnit
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

/**
 * java.time values at their limits, through Rust and back: `testingEcho`
 * (every typed value, converted as real calls convert them) and real calls.
 */
class TypedValuesTest {
    private lateinit var tmp: TempFolder
    private lateinit var journal: Journal

    @Before
    fun setUp() = runBlocking<Unit> {
        tmp = TempFolder()
        journal = Journal.create(tmp.path(), generateKey())
    }

    @After
    fun tearDown() = runBlocking<Unit> {
        journal.closeJournal()
        journal.close()
        tmp.delete()
    }

    private fun echo(
        at: Instant = Instant.EPOCH,
        day: LocalDate = LocalDate.EPOCH,
        time: LocalTime = LocalTime.NOON,
        zone: ZoneId = UTC,
        weekday: DayOfWeek = DayOfWeek.MONDAY,
        id: EntryId = EntryId("0".repeat(32)),
    ) = testingEcho(TestingValues(at, day, time, zone, weekday, id))

    private fun javaOffset(zone: ZoneId, at: Instant) = zone.rules.getOffset(at).totalSeconds

    // --- instants --------------------------------------------------------------

    @Test
    fun instantsBeforeAndAfter1970RoundTrip() = runBlocking<Unit> {
        val instants = listOf(
            "1600-01-01T00:00:00Z", "1900-01-01T00:00:00Z", "1960-06-01T00:00:00Z", "1969-12-31T23:59:58.500Z",
            "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.001Z",
            "2024-02-29T12:34:56.789Z", "2199-12-31T23:59:59.999Z", "2500-01-01T00:00:00Z", "+100000-01-01T00:00:00Z",
        ).map(Instant::parse)
        for (t in instants) assertEquals(t, echo(at = t).at, t.toString())
        // java.time's extremes: refused by a real call, naming the field.
        for (t in listOf(Instant.MAX, Instant.MIN)) {
            assertEquals("at", assertFailsWith<CairnException.InvalidInput>(t.toString()) { journal.log(mood(5.0, at = t)) }.field)
        }
        // The zone database answers for any instant, 1960 included.
        val zones = ZoneDatabase.system()
        val sixties = Instant.parse("1960-06-01T00:00:00Z")
        assertEquals(3600, zones.utcOffsetSeconds(PARIS, sixties))
        assertEquals(javaOffset(PARIS, sixties), zones.utcOffsetSeconds(PARIS, sixties))
        // Kathmandu moved from +05:30 to +05:45 in 1986.
        val kathmandu = ZoneId.of("Asia/Kathmandu")
        for (t in listOf("1970-06-01T00:00:00Z", "1990-06-01T00:00:00Z").map(Instant::parse)) {
            assertEquals(javaOffset(kathmandu, t), zones.utcOffsetSeconds(kathmandu, t), t.toString())
        }
    }

    @Test
    fun theStoreHoldsInstantsFrom1970To2199() = runBlocking<Unit> {
        val first = Instant.EPOCH
        val last = Instant.parse("2199-12-31T23:59:59.999Z")
        val e = journal.log(mood(5.0, at = first, zone = UTC))
        assertEquals(first, e.at)
        assertEquals(LocalDate.of(1970, 1, 1), e.localDate)
        assertEquals(e, journal.entry(e.id))
        // An entry cannot be logged at the last instant (more than a day
        // ahead), but everything else takes it: an event, a query's end.
        assertEquals("at", assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, at = last)) }.field)
        assertEquals(listOf(e), journal.entries(EntryQuery(from = first, to = last)).entries)
        journal.reminders().use { r ->
            val event = r.recordEvent("infusion", last, UTC)
            assertEquals(last, event.at)
            assertEquals(listOf(event), r.events())
            val after = last.plusMillis(1)
            assertEquals("at", assertFailsWith<CairnException.InvalidInput> { r.recordEvent("infusion", after, UTC) }.field)
        }
        // A second before 1970 is refused.
        val before = Instant.parse("1969-12-31T23:59:59Z")
        assertEquals("at", assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, at = before)) }.field)
    }

    @Test
    fun theLastMillisecondBefore1970IsRefused() = runBlocking<Unit> {
        // Less than a second before 1970: uniffi's own timestamp format lost
        // the sign there, and the journal took it for 1970-01-01T00:00:00.001Z.
        val t = Instant.parse("1969-12-31T23:59:59.999Z")
        assertEquals(t, echo(at = t).at)
        assertEquals("at", assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, at = t)) }.field)
        // Less than half a millisecond before 1970 rounds to 1970 itself, and is taken.
        assertEquals(Instant.EPOCH, journal.log(mood(5.0, at = Instant.EPOCH.minusNanos(499_000), zone = UTC)).at)
        assertEquals("at", assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, at = Instant.EPOCH.minusNanos(500_000))) }.field)
        assertEquals(1, journal.entries(EntryQuery(to = Instant.EPOCH.plusSeconds(1))).entries.size)
    }

    @Test
    fun subMillisecondInstantsRoundToTheNearestMillisecond() = runBlocking<Unit> {
        val base = Instant.parse("2026-05-10T08:00:00Z")
        assertEquals(base.plusMillis(2), echo(at = base.plusNanos(1_500_000)).at)
        assertEquals(base.plusMillis(1), echo(at = base.plusNanos(1_499_999)).at)
        assertEquals(base, echo(at = base.plusNanos(499_999)).at)
        // Before 1970, half a millisecond rounds away from 1970.
        assertEquals(Instant.parse("1969-12-31T23:59:49.999Z"), echo(at = Instant.parse("1969-12-31T23:59:49.9995Z")).at)

        // Through the journal: stored rounded, and a value read back and
        // written again does not drift.
        val second = now().truncatedTo(ChronoUnit.SECONDS) - HOUR
        val up = journal.log(mood(5.0, at = second.plusNanos(1_500_000)))
        assertEquals(second.plusMillis(2), up.at)
        val down = journal.log(mood(5.0, at = second.plusNanos(1_499_999)))
        assertEquals(second.plusMillis(1), down.at)
        var e = journal.entry(up.id)
        repeat(3) {
            e = journal.updateEntry(e.id, mood(6.0, at = e.at, zone = e.zone))
            assertEquals(second.plusMillis(2), e.at)
            assertEquals(e.at, journal.entry(e.id).at)
        }
        assertEquals(listOf(down.id, up.id), journal.entries(EntryQuery(from = second, to = second.plusMillis(3))).entries.map { it.id })
    }

    // --- zones and daylight saving ----------------------------------------------

    @Test
    fun daylightSavingDaysInParis() = runBlocking<Unit> {
        val zones = ZoneDatabase.system()
        // 2024-03-31: at 02:00 the clocks jump to 03:00. 02:30 never happens
        // on a Paris clock; java.time moves it to 03:30, and so does the journal.
        val springs = listOf("2024-03-31T00:59:59Z" to 3600, "2024-03-31T01:00:00Z" to 7200)
        // 2024-10-27: at 03:00 they go back to 02:00.
        val falls = listOf("2024-10-27T00:59:59Z" to 7200, "2024-10-27T01:00:00Z" to 3600)
        for ((iso, offset) in springs + falls) {
            val at = Instant.parse(iso)
            val e = journal.log(mood(5.0, at = at, zone = PARIS))
            assertEquals(offset, e.utcOffsetSeconds, iso)
            assertEquals(javaOffset(PARIS, at), zones.utcOffsetSeconds(PARIS, at), iso)
            assertEquals(at.atZone(PARIS).toLocalDate(), e.localDate, iso)
        }
        val gap = LocalDateTime.of(2024, 3, 31, 2, 30).atZone(PARIS).toInstant()
        assertEquals(Instant.parse("2024-03-31T01:30:00Z"), gap)
        val inGap = journal.log(mood(5.0, at = gap, zone = PARIS))
        assertEquals(7200, inGap.utcOffsetSeconds)
        assertEquals(LocalTime.of(3, 30), inGap.at.atZone(inGap.zone).toLocalTime())
        // 02:30 happens twice in October: each entry keeps its own offset.
        val twice = listOf("2024-10-27T00:30:00Z", "2024-10-27T01:30:00Z").map { journal.log(mood(5.0, at = Instant.parse(it), zone = PARIS)) }
        assertEquals(listOf(7200, 3600), twice.map { it.utcOffsetSeconds })
        assertEquals(listOf(LocalTime.of(2, 30), LocalTime.of(2, 30)), twice.map { it.at.atZone(PARIS).toLocalTime() })
        val october = journal.entries(EntryQuery(fromDay = LocalDate.of(2024, 10, 27), toDay = LocalDate.of(2024, 10, 27)))
        assertEquals(4, october.entries.size)

        // A Paris reminder at 02:30 fires at 03:30 on the day 02:30 is missing.
        journal.reminders().use { r ->
            r.add(daily("02:30", start = "2024-03-30", end = "2024-04-01", zone = PARIS))
            val fires = r.occurrences(Instant.parse("2024-03-29T00:00:00Z"), Instant.parse("2024-04-02T00:00:00Z"), UTC).map { it.fireAt }
            assertEquals(
                listOf("2024-03-30T01:30:00Z", "2024-03-31T01:30:00Z", "2024-04-01T00:30:00Z").map(Instant::parse),
                fires,
            )
        }
    }

    @Test
    fun unusualOffsetsRoundTrip() = runBlocking<Unit> {
        val zones = ZoneDatabase.system()
        val at = Instant.parse("2025-01-15T12:00:00Z")
        val cases = listOf(
            Triple(ZoneId.of("America/St_Johns"), -(3 * 3600 + 30 * 60), LocalDate.of(2025, 1, 15)),
            Triple(ZoneId.of("Asia/Kathmandu"), 5 * 3600 + 45 * 60, LocalDate.of(2025, 1, 15)),
            // Already tomorrow at 02:00.
            Triple(ZoneId.of("Pacific/Kiritimati"), 14 * 3600, LocalDate.of(2025, 1, 16)),
        )
        for ((zone, offset, day) in cases) {
            assertEquals(zone, echo(zone = zone).zone)
            assertEquals(offset, zones.utcOffsetSeconds(zone, at), zone.id)
            val e = journal.log(mood(5.0, at = at, zone = zone))
            assertEquals(zone, e.zone)
            assertEquals(offset, e.utcOffsetSeconds, zone.id)
            assertEquals(day, e.localDate, zone.id)
            assertEquals(e, journal.entry(e.id))
        }
        assertEquals(3, journal.entries(EntryQuery(fromDay = LocalDate.of(2025, 1, 15))).entries.size)
        assertEquals(1, journal.entries(EntryQuery(fromDay = LocalDate.of(2025, 1, 16))).entries.size)
        // A fixed offset is a ZoneId to java.time, not a zone of the
        // database: UnknownZone (ZoneOffset.UTC too; ZoneId.of("UTC") is one).
        assertFailsWith<CairnException.UnknownZone> { journal.log(mood(5.0, zone = ZoneOffset.ofHours(2))) }
        assertFailsWith<CairnException.UnknownZone> { journal.log(mood(5.0, zone = ZoneOffset.UTC)) }
    }

    // --- times of day, weekdays and days ----------------------------------------

    @Test
    fun wallClockTimesAtTheEndsOfTheDay() = runBlocking<Unit> {
        assertEquals(LocalTime.MIDNIGHT, echo(time = LocalTime.MIDNIGHT).time)
        assertEquals(LocalTime.of(23, 59), echo(time = LocalTime.of(23, 59)).time)
        assertEquals("time", assertFailsWith<CairnException.InvalidInput> { echo(time = LocalTime.of(23, 59, 59)) }.field)
        // A fraction of a second is refused too, never silently cut.
        assertEquals("time", assertFailsWith<CairnException.InvalidInput> { echo(time = LocalTime.of(9, 0, 0, 1)) }.field)
        journal.reminders().use { r ->
            val rule = r.add(daily("23:59", "00:00", start = "2026-05-01", end = "2026-05-01", zone = UTC))
            assertEquals(ReminderSchedule.Daily(listOf(LocalTime.MIDNIGHT, LocalTime.of(23, 59))), rule.schedule)
            val fires = r.occurrences(Instant.parse("2026-05-01T00:00:00Z"), Instant.parse("2026-05-02T00:00:00Z"), UTC)
            assertEquals(listOf("2026-05-01T00:00:00Z", "2026-05-01T23:59:00Z").map(Instant::parse), fires.map { it.fireAt })
            r.setQuietHours(QuietHours(LocalTime.of(23, 59), LocalTime.MIDNIGHT))
            assertEquals(QuietHours(LocalTime.of(23, 59), LocalTime.MIDNIGHT), r.quietHours())
            // Seconds are refused, naming the field.
            val withSeconds = daily("09:00").copy(schedule = ReminderSchedule.Daily(listOf(LocalTime.of(9, 0, 30))))
            assertEquals("times", assertFailsWith<CairnException.InvalidInput> { r.add(withSeconds) }.field)
            assertEquals(
                "end",
                assertFailsWith<CairnException.InvalidInput> { r.setQuietHours(QuietHours(LocalTime.of(22, 0), LocalTime.of(6, 59, 59))) }.field,
            )
        }
    }

    @Test
    fun everyDayOfTheWeekRoundTrips() = runBlocking<Unit> {
        for (d in DayOfWeek.entries) assertEquals(d, echo(weekday = d).weekday)
        journal.reminders().use { r ->
            val all = DayOfWeek.entries.reversed()
            val rule = r.add(
                NewReminder(ReminderCategory.JOURNALING, ReminderSchedule.Weekly(all, times("20:00")), LocalDate.of(2026, 6, 1), zone = UTC),
            )
            assertEquals(ReminderSchedule.Weekly(DayOfWeek.entries.toList(), times("20:00")), rule.schedule)
            val fires = r.occurrences(Instant.parse("2026-06-01T00:00:00Z"), Instant.parse("2026-06-08T00:00:00Z"), UTC)
            assertEquals(DayOfWeek.entries.toList(), fires.map { it.fireAt.atZone(UTC).dayOfWeek })
            // One day alone, each in turn.
            for (d in DayOfWeek.entries) {
                val one = r.update(rule.id, NewReminder(ReminderCategory.JOURNALING, ReminderSchedule.Weekly(listOf(d), times("20:00")), LocalDate.of(2026, 6, 1), zone = UTC))
                assertEquals(ReminderSchedule.Weekly(listOf(d), times("20:00")), one.schedule)
                val week = r.occurrences(Instant.parse("2026-06-01T00:00:00Z"), Instant.parse("2026-06-08T00:00:00Z"), UTC)
                assertEquals(listOf(d), week.map { it.fireAt.atZone(UTC).dayOfWeek })
            }
        }
    }

    @Test
    fun localDatesLeapDayAndFarAway() = runBlocking<Unit> {
        val leap = LocalDate.of(2024, 2, 29)
        for (d in listOf(leap, LocalDate.of(1, 1, 1), LocalDate.of(9999, 12, 31), LocalDate.of(-200_000, 1, 1), LocalDate.of(1969, 12, 31))) {
            assertEquals(d, echo(day = d).day)
        }
        for (d in listOf(LocalDate.MAX, LocalDate.MIN, LocalDate.of(-300_000, 1, 1))) {
            assertEquals("day", assertFailsWith<CairnException.InvalidInput>(d.toString()) { echo(day = d) }.field)
        }
        // An entry on the leap day, found by its day.
        val e = journal.log(mood(4.0, at = Instant.parse("2024-02-29T12:00:00Z"), zone = UTC))
        assertEquals(leap, e.localDate)
        assertEquals(listOf(e), journal.entries(EntryQuery(fromDay = leap, toDay = leap)).entries)
        // Far days are fine in a query: there is nothing there.
        assertEquals(listOf(e), journal.entries(EntryQuery(fromDay = LocalDate.of(1, 1, 1), toDay = LocalDate.of(9999, 12, 31))).entries)
        assertEquals("toDay", assertFailsWith<CairnException.InvalidInput> { journal.entries(EntryQuery(toDay = LocalDate.MAX)) }.field)
        journal.reminders().use { r ->
            // A one-off on the leap day, and a month day 29 in February 2025 (its last day).
            r.add(NewReminder(ReminderCategory.APPOINTMENT, ReminderSchedule.Once(leap, time("09:00")), leap, zone = UTC))
            r.add(NewReminder(ReminderCategory.CHECK_IN, ReminderSchedule.MonthDay(29, times("09:00")), LocalDate.of(2025, 2, 1), zone = UTC))
            val feb2024 = r.occurrences(Instant.parse("2024-02-01T00:00:00Z"), Instant.parse("2024-03-01T00:00:00Z"), UTC)
            assertEquals(listOf(Instant.parse("2024-02-29T09:00:00Z")), feb2024.map { it.fireAt })
            val feb2025 = r.occurrences(Instant.parse("2025-02-01T00:00:00Z"), Instant.parse("2025-03-01T00:00:00Z"), UTC)
            assertEquals(listOf(Instant.parse("2025-02-28T09:00:00Z")), feb2025.map { it.fireAt })
            // A rule's days must lie in 1970-2199.
            for (d in listOf(LocalDate.of(1969, 12, 31), LocalDate.of(2200, 1, 1), LocalDate.MAX)) {
                assertEquals("start", assertFailsWith<CairnException.InvalidInput>(d.toString()) { r.add(daily("09:00").copy(start = d)) }.field)
                assertEquals("end", assertFailsWith<CairnException.InvalidInput>(d.toString()) { r.add(daily("09:00").copy(end = d)) }.field)
            }
        }
    }

    // --- numbers -------------------------------------------------------------------

    @Test
    fun negativeNumbersAreRefusedNamingTheField() = runBlocking<Unit> {
        val count = journal.addTracker(NewTracker("Cigarettes", TrackerKind.Count))
        val r = journal.reminders()
        try {
            val cases = listOf(
                call("limit") { journal.entries(EntryQuery(limit = -1)) },
                call("limit") { journal.entries(EntryQuery(limit = Int.MIN_VALUE)) },
                call("value") { journal.log(NewEntry(count.id.value, Value.Count(-1), now(), UTC)) },
                call("value") { journal.log(NewEntry("sleep", Value.Sleep(-1, null), now(), UTC)) },
                call("value") { journal.log(NewEntry("sleep", Value.Sleep(60, -1), now(), UTC)) },
                call("maxMinutes") { journal.addTracker(NewTracker("Walks", TrackerKind.Duration(Int.MIN_VALUE))) },
                call("count") { r.add(daily("09:00").copy(count = -1)) },
                call("graceMinutes") { r.add(daily("09:00").copy(graceMinutes = -1)) },
                call("n") { r.add(daily("09:00").copy(schedule = ReminderSchedule.EveryNDays(-3, times("09:00")))) },
                call("day") { r.add(daily("09:00").copy(schedule = ReminderSchedule.MonthDay(-1, times("09:00")))) },
                call("minutes") { r.add(daily("09:00").copy(schedule = ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.After(-5))))) },
                call("horizonDays") { r.plan(now(), UTC, androidLimits(true), -1) },
                call("maxPending") { r.plan(now(), UTC, androidLimits(true).copy(maxPending = -1), 1) },
                call("inexactWindowMinutes") { r.plan(now(), UTC, androidLimits(false).copy(inexactWindowMinutes = -10), 1) },
            )
            for ((field, call) in cases) {
                assertEquals(field, assertFailsWith<CairnException.InvalidInput>(field) { call() }.field)
            }
            // The largest Ints are refused as out of range too, never wrapped.
            assertFailsWith<CairnException.InvalidInput> { journal.log(NewEntry(count.id.value, Value.Count(Int.MAX_VALUE), now(), UTC)) }
            assertFailsWith<CairnException.InvalidInput> { r.add(daily("09:00").copy(graceMinutes = Int.MAX_VALUE)) }
            assertEquals(listOf(), r.list().reminders)
        } finally {
            r.close()
        }
    }
}
