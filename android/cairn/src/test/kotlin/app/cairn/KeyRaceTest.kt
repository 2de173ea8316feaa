package app.cairn

import app.cairn.android.KeyLock
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import java.io.File
import java.util.Collections
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import org.junit.After
import org.junit.Test

/**
 * First runs racing for the data key (the app and a reminder receiver, or two
 * processes of the app): separate vault objects over shared file storage
 * must all get one single key, never two (one journal created under the
 * first while the second is kept would be unreadable for good).
 */
class KeyRaceTest {
    private val tmp = TempFolder()

    @After
    fun tearDown() = tmp.delete()

    private fun raceDir(i: Int) = tmp.dir.resolve("$i").toFile().apply { mkdirs() }

    /** The key the storage in [dir] holds now, as a fresh vault unwraps it. */
    private fun storedKey(dir: File) = runBlocking { vaultIn(dir).dataKey(journalExists = true).hex() }

    @Test
    fun separateVaultsInOneProcessGetOneKey() {
        repeat(200) { i ->
            val dir = raceDir(i)
            val created = AtomicInteger()
            val keys = raceForKey(dir, threads = 4, created = created)
            assertEquals(1, keys.toSet().size, "race $i: ${keys.toSet().size} different keys")
            assertEquals(keys[0], storedKey(dir), "race $i: the stored key is the one handed out")
            assertEquals(1, created.get(), "race $i: the wrapping key was created once")
        }
    }

    @Test
    fun racingFirstOpensShareOneJournal() {
        repeat(30) { i ->
            val dir = raceDir(i)
            val threads = 3
            val barrier = CyclicBarrier(threads)
            val errors = mutableListOf<Throwable>()
            (0 until threads).map { t ->
                thread {
                    try {
                        val vault = vaultIn(dir)
                        barrier.await()
                        runBlocking {
                            vault.open(journalFile(dir)).use { j ->
                                j.log(mood(t.toDouble()))
                                j.closeJournal()
                            }
                        }
                    } catch (e: Throwable) {
                        synchronized(errors) { errors += e }
                    }
                }
            }.forEach { it.join() }
            errors.firstOrNull()?.let { throw AssertionError("race $i", it) }
            runBlocking {
                vaultIn(dir).open(journalFile(dir)).use { j ->
                    assertEquals(threads, j.allEntries().size, "race $i: every caller wrote into the one journal")
                    j.closeJournal()
                }
            }
        }
    }

    @Test
    fun twoProcessesGetOneKey() {
        val races = 100
        val slotMs = 40L
        val dirs = (0 until races).map { raceDir(it) }
        val ready = File(tmp.path("ready"))
        val go = File(tmp.path("go"))
        val child = startChildJvm("race", tmp.dir.toString(), "$races", "2", ready.path, go.path, "$slotMs")
        val childKeys = mutableListOf<String>()
        val reader = thread { child.inputStream.bufferedReader().forEachLine { synchronized(childKeys) { childKeys += it } } }
        try {
            val deadline = System.currentTimeMillis() + 60_000
            while (!ready.exists()) {
                assertTrue(child.isAlive, "the second JVM ended before it was ready")
                assertTrue(System.currentTimeMillis() < deadline, "the second JVM was not ready within a minute")
                Thread.sleep(10)
            }
            generateKey().fill(0)
            val start = System.currentTimeMillis() + 300
            val goTmp = File(tmp.path("go.tmp")).apply { writeText("$start") }
            assertTrue(goTmp.renameTo(go))
            val ours = dirs.mapIndexed { i, dir -> raceForKey(dir, threads = 2, startAtMs = start + i * slotMs) }
            assertTrue(child.waitFor(2, TimeUnit.MINUTES), "the second JVM did not finish")
            reader.join()
            assertEquals(0, child.exitValue())
            val theirs = childKeys.map { it.split(' ') }.groupBy({ it[0].toInt() }, { it[1] })
            for ((i, dir) in dirs.withIndex()) {
                val all = ours[i] + theirs[i].orEmpty()
                assertEquals(4, all.size, "race $i: four callers")
                assertEquals(1, all.toSet().size, "race $i: ${all.toSet().size} different keys across the two processes")
                assertEquals(all[0], storedKey(dir), "race $i")
            }
        } finally {
            child.destroyForcibly()
        }
    }

    @Test
    fun theKeyLockIsReentrantAndSharedByPath() = runBlocking<Unit> {
        val dir = raceDir(0)
        val a = KeyLock(File(dir, "x.lock"))
        val b = KeyLock(File(dir, "./x.lock"))
        // Reentrant in the coroutine holding it, through another object for the same file.
        assertEquals(42, a.withLock { b.withLock { 42 } })
        val order = mutableListOf<String>()
        val other = a.withLock {
            val t = thread { runBlocking { b.withLock { synchronized(order) { order += "other" } } } }
            Thread.sleep(100)
            synchronized(order) { order += "holder" }
            t
        }
        other.join()
        assertEquals(listOf("holder", "other"), order, "the second thread waited for the first")
        // A second coroutine on the same thread waits too: the lock is the
        // coroutine's, not the thread's.
        val events = Collections.synchronizedList(mutableListOf<String>())
        coroutineScope {
            launch { a.withLock { events += "holder in"; delay(100); events += "holder out" } }
            launch { b.withLock { events += "second" } }
        }
        assertEquals(listOf("holder in", "holder out", "second"), events)
    }
}
