package app.cairn

import kotlinx.coroutines.runBlocking
import org.junit.Test
import java.util.Collections
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.concurrent.thread
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * One Journal shared by many plain threads, each blocked on its own calls
 * (runBlocking): what an app with its own executors does. CoroutinesTest
 * does the same from coroutines.
 */
class ConcurrencyTest : JournalFixture() {
    @Test
    fun eightThreadsWritingAndReadingLoseNoWrite() = runBlocking<Unit> {
        val threads = 8
        val runForMs = 3_000L
        val errors = ConcurrentLinkedQueue<Throwable>()
        val logged = List(threads) { Collections.synchronizedList(mutableListOf<Entry>()) }
        val start = CountDownLatch(1)
        val workers = (0 until threads).map { t ->
            thread(name = "cairn-writer-$t") {
                try {
                    start.await()
                    val until = System.currentTimeMillis() + runForMs
                    var n = 0
                    while (System.currentTimeMillis() < until) {
                        runBlocking {
                            val e = journal.log(
                                mood((n % 11).toDouble(), note = "thread $t entry $n", tags = listOf(activity("t$t"))),
                            )
                            logged[t] += e
                            when (n % 4) {
                                0 -> check(journal.entry(e.id) == e) { "read back differs" }
                                1 -> journal.entries(EntryQuery(limit = 20, newestFirst = true))
                                2 -> journal.summary(EntryQuery(tracker = "mood"))
                                else -> journal.pendingChanges()
                            }
                        }
                        n++
                    }
                } catch (e: Throwable) {
                    errors += e
                }
            }
        }
        start.countDown()
        workers.forEach { it.join(runForMs + 60_000) }
        assertTrue(workers.none { it.isAlive }, "a worker hung")
        assertEquals(listOf(), errors.map { it.toString() })

        val expected = logged.flatten()
        assertTrue(logged.all { it.isNotEmpty() }, "every thread logged")
        val stored = journal.allEntries().associateBy { it.id }
        assertEquals(expected.size, stored.size)
        for (e in expected) assertEquals(e, stored[e.id])
        val perThread = journal.summary(EntryQuery()).single()
        assertEquals(expected.size.toLong(), perThread.count)

        // Everything acknowledged is on disk: a fresh open sees it all.
        journal.closeJournal()
        journal = Journal.open(path, key)
        assertEquals(expected.map { it.id }.toSet(), journal.allEntries().map { it.id }.toSet())
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun closingWhileOtherThreadsCallIsSafe() = runBlocking<Unit> {
        repeat(10) { journal.log(mood(5.0)) }
        val stop = AtomicBoolean(false)
        val unexpected = ConcurrentLinkedQueue<Throwable>()
        val closedSeen = CountDownLatch(4)
        val workers = (0 until 4).map { t ->
            thread(name = "cairn-reader-$t") {
                var sawClosed = false
                while (!stop.get()) {
                    try {
                        runBlocking { if (t % 2 == 0) journal.entries(EntryQuery()) else journal.log(mood(4.0)) }
                    } catch (e: CairnException.Closed) {
                        if (!sawClosed) closedSeen.countDown()
                        sawClosed = true
                    } catch (e: Throwable) {
                        unexpected += e
                        return@thread
                    }
                }
            }
        }
        Thread.sleep(300)
        journal.closeJournal()
        assertTrue(closedSeen.await(30, TimeUnit.SECONDS), "every thread sees Closed")
        stop.set(true)
        workers.forEach { it.join(30_000) }
        assertEquals(listOf(), unexpected.map { it.toString() })

        journal = Journal.open(path, key)
        assertTrue(journal.integrityCheck())
        assertTrue(journal.allEntries().size >= 10)
    }
}
