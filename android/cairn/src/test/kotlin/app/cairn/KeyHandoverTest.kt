package app.cairn

import app.cairn.android.FileWrappedKeyStore
import app.cairn.android.KeySlot
import app.cairn.android.KeyVaultException
import app.cairn.android.WrappedKey
import kotlinx.coroutines.runBlocking
import java.io.File
import java.util.concurrent.TimeUnit
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.After
import org.junit.Test

/**
 * The pending-key protocol of DataKeyVault.rekey, against real journal files:
 * a re-key killed at any point (a second JVM halted there) leaves a journal
 * that the next open opens with the right key, with no pending key left.
 */
class KeyHandoverTest {
    private val tmp = TempFolder()
    private val dir: File = tmp.dir.toFile()
    private val file = journalFile(dir)

    @After
    fun tearDown() = tmp.delete()

    /** A journal with one entry, opened and closed through the vault; returns its key and the entry's id. */
    private suspend fun journalWithEntry(): Pair<String, EntryId> {
        val id = vaultIn(dir).open(file).use { j -> j.log(mood(7.0)).id.also { j.closeJournal() } }
        return vaultIn(dir).dataKey(journalExists = true).hex() to id
    }

    private suspend fun currentKey() = vaultIn(dir).dataKey(journalExists = true)

    /** Opens through a fresh vault (a new process would) and checks the entry is there. */
    private suspend fun openAndCheck(id: EntryId) {
        vaultIn(dir).open(file).use { j ->
            assertEquals(Value.Scale(7.0), j.entry(id).value)
            j.closeJournal()
        }
        assertNull(keyStore(dir).load(KeySlot.PENDING), "no pending key left after open")
        // The current key opens the journal directly too.
        Journal.open(file.path, currentKey()).use { it.closeJournal() }
    }

    private fun killedRekey(point: KillPoint) {
        val child = startChildJvm("rekey", dir.path, point.name)
        child.inputStream.close()
        assertTrue(child.waitFor(2, TimeUnit.MINUTES), "the re-keying JVM did not end")
        assertEquals(KILLED_EXIT, child.exitValue(), "the re-keying JVM was halted at $point")
    }

    @Test
    fun rekeyHandsTheNewKeyOver() = runBlocking<Unit> {
        val (old, id) = journalWithEntry()
        val vault = vaultIn(dir)
        vault.open(file).use { j ->
            val report = vault.rekey(j, file)
            assertEquals(1L, report.resealed)
            assertEquals(Value.Scale(7.0), j.entry(id).value, "the open journal goes on with the new key")
            j.closeJournal()
        }
        assertNull(keyStore(dir).load(KeySlot.PENDING))
        assertNotEquals(old, currentKey().hex())
        openAndCheck(id)
        assertFailsWith<CairnException.WrongKey> { Journal.open(file.path, hexKey(old)) }
    }

    @Test
    fun killedAfterSavingThePendingKeyKeepsTheOldKey() = runBlocking<Unit> {
        val (old, id) = journalWithEntry()
        killedRekey(KillPoint.AFTER_PENDING_SAVED)
        assertNotNull(keyStore(dir).load(KeySlot.PENDING), "the kill left a pending key")
        openAndCheck(id)
        assertEquals(old, currentKey().hex(), "the re-key never committed: the old key stays")
    }

    @Test
    fun killedAfterTheRekeyPromotesThePendingKeyOnOpen() = runBlocking<Unit> {
        val (old, id) = journalWithEntry()
        killedRekey(KillPoint.AFTER_REKEY)
        assertNotNull(keyStore(dir).load(KeySlot.PENDING), "the kill left a pending key")
        assertFailsWith<CairnException.WrongKey> { Journal.open(file.path, currentKey()) }
        openAndCheck(id)
        assertNotEquals(old, currentKey().hex(), "the re-key committed: the new key is current")
    }

    @Test
    fun killedInATwoStepPromotionOpensWithTheNewKey() = runBlocking<Unit> {
        val (old, id) = journalWithEntry()
        killedRekey(KillPoint.MID_PROMOTION)
        val store = keyStore(dir)
        assertContentEquals(store.load(KeySlot.PENDING)!!.ciphertext, store.load(KeySlot.CURRENT)!!.ciphertext)
        openAndCheck(id)
        assertNotEquals(old, currentKey().hex())
    }

    @Test
    fun killedAfterThePromotionOpensWithTheNewKey() = runBlocking<Unit> {
        val (old, id) = journalWithEntry()
        killedRekey(KillPoint.AFTER_PROMOTION)
        assertNull(keyStore(dir).load(KeySlot.PENDING))
        openAndCheck(id)
        assertNotEquals(old, currentKey().hex())
    }

    @Test
    fun aFailedRekeyIsSettledAtOnce() = runBlocking<Unit> {
        val (old, id) = journalWithEntry()
        val vault = vaultIn(dir)
        val j = vault.open(file)
        j.closeJournal() // the core refuses the re-key: nothing committed
        assertFailsWith<CairnException.Closed> { vault.rekey(j, file) }
        j.close()
        assertNull(keyStore(dir).load(KeySlot.PENDING), "the pending key of a re-key that failed is gone")
        assertEquals(old, currentKey().hex())
        openAndCheck(id)
    }

    @Test
    fun aLeftoverPendingKeyIsSettledBeforeTheNextRekey() = runBlocking<Unit> {
        val (_, id) = journalWithEntry()
        killedRekey(KillPoint.AFTER_REKEY)
        // The journal is sealed with the pending key; a new re-key must not
        // overwrite it before settling. Opened here with the key that works.
        val pendingKey = vaultIn(dir, store = PendingAsCurrent(keyStore(dir))).dataKey(journalExists = true)
        val vault = vaultIn(dir)
        Journal.open(file.path, pendingKey).use { j ->
            vault.rekey(j, file)
            j.closeJournal()
        }
        openAndCheck(id)
        assertFailsWith<CairnException.WrongKey> { Journal.open(file.path, pendingKey) }
    }

    @Test
    fun neitherStoredKeyOpeningTheJournalIsDataKeyRejected() = runBlocking<Unit> {
        journalWithEntry()
        killedRekey(KillPoint.AFTER_PENDING_SAVED)
        // Sealed elsewhere with a third key meanwhile.
        Journal.open(file.path, currentKey()).use { it.rekey(generateKey()); it.closeJournal() }
        val store = keyStore(dir)
        val pending = store.load(KeySlot.PENDING)
        assertFailsWith<KeyVaultException.DataKeyRejected> { vaultIn(dir).open(file) }
        assertNotNull(store.load(KeySlot.PENDING), "nothing is deleted when no key opens the journal")
        assertContentEquals(pending!!.ciphertext, store.load(KeySlot.PENDING)!!.ciphertext)
    }

    @Test
    fun aMalformedKeyFileIsUnreadableNotMissing() = runBlocking<Unit> {
        journalWithEntry()
        File(dir, "keys.key").writeText("not a key\n")
        assertFailsWith<KeyVaultException.WrappedKeyUnreadable> { vaultIn(dir).open(file) }
        assertTrue(file.exists())
    }

    @Test
    fun theFileStoreRoundTripsAndPromotesInOneRename() = runBlocking<Unit> {
        val store = FileWrappedKeyStore(File(dir, "sub"), "k")
        assertNull(store.load(KeySlot.CURRENT))
        store.save(KeySlot.CURRENT, WrappedKey(byteArrayOf(1, 2), byteArrayOf(3)))
        store.save(KeySlot.PENDING, WrappedKey(byteArrayOf(4), byteArrayOf(5, 6)))
        assertContentEquals(byteArrayOf(3), store.load(KeySlot.CURRENT)!!.ciphertext)
        store.promotePending()
        assertContentEquals(byteArrayOf(4), store.load(KeySlot.CURRENT)!!.iv)
        assertContentEquals(byteArrayOf(5, 6), store.load(KeySlot.CURRENT)!!.ciphertext)
        assertNull(store.load(KeySlot.PENDING))
        assertEquals(setOf("k.key"), File(dir, "sub").list()!!.toSet())
        store.delete(KeySlot.CURRENT)
        assertNull(store.load(KeySlot.CURRENT))
    }

    /** The pending slot read as the current one: to get at the pending key in a test. */
    private class PendingAsCurrent(private val real: FileWrappedKeyStore) : app.cairn.android.WrappedKeyStore {
        override fun load(slot: KeySlot) = real.load(KeySlot.PENDING)
        override fun save(slot: KeySlot, key: WrappedKey) = throw UnsupportedOperationException()
        override fun delete(slot: KeySlot) = throw UnsupportedOperationException()
    }

    private fun hexKey(hex: String) = ByteArray(hex.length / 2) { hex.substring(2 * it, 2 * it + 2).toInt(16).toByte() }
}
