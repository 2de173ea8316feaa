package app.cairn

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.coroutines.yield
import org.junit.Test
import java.time.DayOfWeek
import java.time.Instant
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.concurrent.thread
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertTrue

/**
 * The API as coroutines use it: every call suspends, a cancelled read stops
 * early and frees its reader, Flows see commits from anywhere, many
 * coroutines share one journal, and closing ends every later call.
 * Deadlines here only catch a hang; nothing asserts how fast anything is.
 */
class CoroutinesTest : JournalFixture() {
    @Test
    fun everyJournalAndRemindersCallWorksFromACoroutine() = runBlocking<Unit> {
        withContext(Dispatchers.Default) {
            withTimeout(HANG) {
                // Journal: constructors.
                val other = tmp.path("other.cairn")
                val otherKey = generateKey()
                Journal.create(other, otherKey).use { it.closeJournal() }
                Journal.open(other, otherKey).use { it.closeJournal() }
                Journal.openOrCreate(other, otherKey, ZoneDatabase.system()).use { it.closeJournal() }

                // Journal: entries and trackers.
                val changes = Channel<JournalChange>(Channel.UNLIMITED)
                val subscription = journal.observe(
                    object : JournalListener {
                        override fun onChange(change: JournalChange) {
                            changes.trySend(change)
                        }

                        override fun onClosed() {
                            changes.close()
                        }
                    },
                )
                val urges = journal.addTracker(NewTracker("Urges", TrackerKind.Count))
                assertEquals(urges, journal.tracker("urges"))
                assertTrue(urges in journal.trackers())
                val logged = journal.log(mood(3.0, note = "first", tags = listOf(trigger("work"))))
                // A millisecond later at least: two entries at the same instant
                // are listed in id order, which is random.
                val counted = journal.log(NewEntry(urges.id.value, Value.Count(2), logged.at.plusMillis(1), UTC))
                val updated = journal.updateEntry(logged.id, mood(2.0, at = logged.at, note = "second", tags = listOf(trigger("work"))))
                assertEquals(updated, journal.entry(logged.id))
                assertEquals(listOf(logged.id, counted.id), journal.entries(EntryQuery()).entries.map { it.id })
                assertEquals(2.0, journal.summary(EntryQuery(tracker = "mood")).single().mean)
                assertEquals(listOf(TagCount(trigger("work"), 1)), journal.tagsOnLowDays(EntryQuery(), "mood", 3.0))
                assertTrue(journal.pendingChanges() >= 4)
                journal.deleteEntry(counted.id)
                journal.deleteTracker(urges.id)
                assertTrue(journal.integrityCheck())
                assertTrue(journal.rekey(generateKey()).resealed >= 1)

                // The listener heard every write, in order, ids only.
                val heard = List(7) { changes.receive() }
                subscription.cancel()
                subscription.close()
                assertEquals(
                    listOf(
                        ChangeTable.TRACKERS to false,
                        ChangeTable.ENTRIES to false,
                        ChangeTable.ENTRIES to false,
                        ChangeTable.ENTRIES to false,
                        ChangeTable.ENTRIES to true,
                        ChangeTable.TRACKERS to true,
                        ChangeTable.ALL to false,
                    ),
                    heard.map { it.table to it.deleted },
                )
                assertEquals(listOf(urges.id.value), heard[0].ids)
                assertEquals(listOf(logged.id.value), heard[1].ids)
                assertEquals(listOf(counted.id.value), heard[4].ids)

                // Reminders: every call.
                journal.reminders().use { r ->
                    val rule = r.add(daily("09:00", start = "2026-05-01"))
                    val weekly = r.update(
                        rule.id,
                        daily("09:00", start = "2026-05-01")
                            .copy(schedule = ReminderSchedule.Weekly(listOf(DayOfWeek.MONDAY), times("09:00"))),
                    )
                    assertEquals(weekly, r.get(rule.id))
                    assertEquals(listOf(weekly), r.list().reminders)
                    r.setQuietHours(QuietHours(time("22:00"), time("07:00")))
                    assertEquals(QuietHours(time("22:00"), time("07:00")), r.quietHours())
                    val event = r.recordEvent("infusion", instant("2026-05-04T12:00Z"), PARIS)
                    assertEquals(listOf(event), r.events())
                    val now = instant("2026-05-03T00:00Z")
                    val plan = r.plan(now, PARIS, androidLimits(true), 7)
                    assertEquals(plan, r.planBlocking(now, PARIS, androidLimits(true), 7))
                    val first = plan.notifications.first()
                    r.report(first.occurrence, first.due, ReminderReport.Shown(first.due))
                    val occurrences = r.occurrences(now, now + 7 * DAY, PARIS)
                    assertEquals(plan.notifications.map { it.occurrence }, occurrences.map { it.key })
                    val adherence = r.adherence(now, now + 7 * DAY, now + 7 * DAY, PARIS)
                    assertEquals(1, adherence.rules.single().shown)
                    r.delete(rule.id)
                    assertEquals(listOf(), r.list().reminders)
                }
            }
        }
    }

    // JUnit's timeout: a blocked runBlocking thread could not time itself out.
    @Test(timeout = 120_000)
    fun aCallSuspendsRatherThanBlockingItsThread() = runBlocking<Unit> {
        // runBlocking's one thread: an endless read waiting on it must leave
        // the thread free for the next call, which completes.
        val endless = launch { journal.testingEndlessRead() }
        yield()
        withTimeout(HANG) { journal.log(mood(5.0)) }
        assertEquals(1, withTimeout(HANG) { journal.entries(EntryQuery()) }.entries.size)
        endless.cancelAndJoin()
    }

    @Test
    fun cancelledReadsStopAndFreeTheirReaders() = runBlocking<Unit> {
        // The journal reads on two threads: occupy both with reads that
        // never end by themselves.
        val endless = List(2) { launch(Dispatchers.Default) { journal.testingEndlessRead() } }
        delay(300) // time for both to reach their reader (not asserted)
        endless.forEach { it.cancelAndJoin() }
        assertTrue(endless.all { it.isCancelled })
        // Were the readers not interrupted, this read could never run.
        val page = withTimeout(HANG) { journal.entries(EntryQuery()) }
        assertEquals(listOf(), page.entries)
        // And again, both readers at once.
        val reads = List(4) { async(Dispatchers.Default) { journal.trackers() } }
        assertEquals(4, withTimeout(HANG) { reads.awaitAll() }.size)
    }

    @Test
    fun aCancelledWriteStillCompletes() = runBlocking<Unit> {
        // A write, once made, runs to its end: the patient who taps "save"
        // and leaves the screen keeps the entry.
        val write = launch(start = CoroutineStart.UNDISPATCHED) { journal.log(mood(6.0, note = "kept")) }
        write.cancelAndJoin()
        val deadline = System.nanoTime() + HANG * 1_000_000
        var notes = listOf<String?>()
        while (System.nanoTime() < deadline) {
            notes = journal.entries(EntryQuery()).entries.map { it.note }
            if (notes.isNotEmpty()) break
            delay(10)
        }
        assertEquals(listOf<String?>("kept"), notes)
    }

    @Test
    fun changesSeeACommitMadeOnAnotherThread() = runBlocking<Unit> {
        val logged = ConcurrentHashMap.newKeySet<String>()
        val stop = AtomicBoolean(false)
        // A plain thread keeps logging until the flow has seen one of its
        // commits (the flow may start listening after the first ones).
        val writer = thread(name = "another-writer") {
            runBlocking {
                while (!stop.get()) {
                    logged += journal.log(mood(4.0, note = "from another thread")).id.value
                    delay(20)
                }
            }
        }
        val change = withTimeout(HANG) {
            journal.changes().first { it.table == ChangeTable.ENTRIES }
        }
        stop.set(true)
        writer.join(HANG)
        assertFalse(writer.isAlive)
        assertFalse(change.deleted)
        assertEquals(1, change.ids.size)
        assertTrue(change.ids.single() in logged, "the change names an entry the other thread logged")
        assertFalse(change.toString().contains("another thread"), "changes carry ids, never content")
    }

    @Test
    fun flowsDeliverEveryCommitBeforeACloseThenComplete() = runBlocking<Unit> {
        val seen = Channel<JournalChange>(Channel.UNLIMITED)
        val started = Channel<Unit>(1)
        val collector = launch(Dispatchers.Default) {
            journal.changes().collect { seen.send(it) }
            seen.close() // reached only if the flow completes
        }
        val pages = launch(Dispatchers.Default) {
            journal.entriesFlow().collect { started.trySend(Unit) }
        }
        withTimeout(HANG) { started.receive() } // entriesFlow listens
        // changes() listens once it has seen a commit.
        withTimeout(HANG) {
            while (true) {
                journal.log(mood(1.0))
                if (withTimeoutOrNull(200) { seen.receive() } != null) break
            }
        }
        val ids = (1..10).map { journal.log(mood(it.toDouble() % 11)).id.value }
        journal.closeJournal()
        val delivered = withTimeout(HANG) {
            val got = mutableListOf<String>()
            for (c in seen) got += c.ids
            got
        }
        assertEquals(ids, delivered.takeLast(10), "every commit before the close, in order")
        withTimeout(HANG) { collector.join(); pages.join() } // both flows completed on their own
    }

    @Test
    fun entriesFlowEmitsTheFirstPageThenANewOneAfterALog() = runBlocking<Unit> {
        val before = journal.log(mood(5.0))
        val pages = Channel<EntryPage>(Channel.UNLIMITED)
        val collector = launch(Dispatchers.Default) {
            journal.entriesFlow(EntryQuery(tracker = "mood")).collect { pages.send(it) }
        }
        val first = withTimeout(HANG) { pages.receive() }
        assertEquals(listOf(before.id), first.entries.map { it.id })
        // Logged after the first page: the flow was listening by then.
        val after = withContext(Dispatchers.IO) { journal.log(mood(7.0)) }
        var page = withTimeout(HANG) { pages.receive() }
        while (page.entries.size < 2) page = withTimeout(HANG) { pages.receive() }
        assertEquals(listOf(before.id, after.id), page.entries.map { it.id })
        // A change elsewhere (a reminder rule) does not re-query.
        journal.reminders().use { it.add(daily("09:00")) }
        val third = journal.log(mood(8.0))
        page = withTimeout(HANG) { pages.receive() }
        while (page.entries.size < 3) page = withTimeout(HANG) { pages.receive() }
        assertEquals(listOf(before.id, after.id, third.id), page.entries.map { it.id })
        collector.cancelAndJoin()
    }

    @Test
    fun eightCoroutinesWritingForThreeSecondsLoseNothing() = runBlocking<Unit> {
        val until = System.nanoTime() + 3_000_000_000L
        val perCoroutine = withContext(Dispatchers.Default) {
            List(8) { c ->
                async {
                    val mine = mutableListOf<Entry>()
                    var n = 0
                    while (System.nanoTime() < until) {
                        mine += journal.log(mood((n % 11).toDouble(), note = "coroutine $c entry $n"))
                        if (n % 3 == 0) journal.entries(EntryQuery(limit = 20, newestFirst = true))
                        n++
                    }
                    mine
                }
            }.awaitAll()
        }
        assertTrue(perCoroutine.all { it.isNotEmpty() }, "every coroutine logged")
        val acknowledged = perCoroutine.flatten()
        val ids = acknowledged.map { it.id }
        assertEquals(ids.size, ids.toSet().size, "ids are unique")
        val listed = journal.allEntries()
        assertEquals(acknowledged.size, listed.size)
        val byId = listed.associateBy { it.id }
        for (e in acknowledged) assertEquals(e, byId[e.id])
        assertEquals(acknowledged.size.toLong(), journal.summary(EntryQuery()).single().count)
    }

    @Test
    fun closingWhileCallsAreQueuedEndsEveryLaterCall() = runBlocking<Unit> {
        val reminders = journal.reminders()
        // Many calls in flight on other threads, then close.
        val inFlight = List(40) { i ->
            async(Dispatchers.Default) {
                runCatching { if (i % 2 == 0) journal.log(mood(5.0)).id else journal.entries(EntryQuery()) }
            }
        }
        journal.closeJournal()
        val outcomes = withTimeout(HANG) { inFlight.awaitAll() }
        for (o in outcomes) {
            val e = o.exceptionOrNull()
            if (e != null) assertIs<CairnException.Closed>(e, e.toString())
        }
        val kept = outcomes.mapNotNull { it.getOrNull() as? EntryId }

        // Everything after closeJournal() raises Closed, reminders too.
        assertIs<CairnException.Closed>(runCatching { journal.log(mood(5.0)) }.exceptionOrNull())
        assertIs<CairnException.Closed>(runCatching { journal.entries(EntryQuery()) }.exceptionOrNull())
        assertIs<CairnException.Closed>(runCatching { journal.reminders() }.exceptionOrNull())
        assertIs<CairnException.Closed>(runCatching { reminders.list() }.exceptionOrNull())
        assertIs<CairnException.Closed>(runCatching { reminders.add(daily("09:00")) }.exceptionOrNull())
        assertIs<CairnException.Closed>(
            runCatching { reminders.planBlocking(Instant.now(), UTC, androidLimits(true), 1) }.exceptionOrNull(),
        )
        reminders.close()

        // Every write that returned before the close is on disk.
        journal.close()
        journal = Journal.open(path, key)
        val stored = journal.allEntries().map { it.id }.toSet()
        assertTrue(stored.containsAll(kept), "acknowledged writes survive the close")
    }

    private companion object {
        /** Only to catch a hang: a minute for what takes milliseconds. */
        const val HANG = 60_000L
    }
}
