package app.cairn

import app.cairn.android.DataKeyVault
import app.cairn.android.KeyLock
import app.cairn.android.KeySlot
import app.cairn.android.KeyVaultException
import app.cairn.android.WrappedKey
import app.cairn.android.WrappedKeyStore
import app.cairn.android.WrappingKey
import kotlinx.coroutines.runBlocking
import org.junit.Test
import java.io.File
import java.security.InvalidKeyException
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertSame
import kotlin.test.assertTrue

/**
 * The key handling behind KeystoreKeyProvider, with a software AES key in
 * place of the Android Keystore (the Keystore itself needs a device).
 */
class DataKeyVaultTest {
    private class MemoryStore : WrappedKeyStore {
        val slots = mutableMapOf<KeySlot, WrappedKey>()
        var saved: WrappedKey?
            get() = slots[KeySlot.CURRENT]
            set(value) { if (value == null) slots.remove(KeySlot.CURRENT) else slots[KeySlot.CURRENT] = value }
        override fun load(slot: KeySlot) = slots[slot]
        override fun save(slot: KeySlot, key: WrappedKey) { slots[slot] = key }
        override fun delete(slot: KeySlot) { slots.remove(slot) }
    }

    private val lock = KeyLock(File.createTempFile("cairn-test-", ".lock").apply { deleteOnExit() })

    private fun vaultOver(store: WrappedKeyStore, wrapping: WrappingKey) = DataKeyVault(store, wrapping, lock)

    private class InvalidatedKeyException : InvalidKeyException("invalidated")

    /** A wrapping key that can be made to behave like an invalidated keystore key. */
    private class SoftwareWrappingKey : WrappingKey {
        var key: SecretKey? = null
        var invalidated = false
        var created = 0

        override fun get(): SecretKey? = key?.let { if (invalidated) Invalidated(it) else it }
        override fun create(): SecretKey {
            created++
            invalidated = false
            return KeyGenerator.getInstance("AES").apply { init(256) }.generateKey().also { key = it }
        }
        override fun delete() { key = null }
        override fun isPermanentlyInvalidated(e: InvalidKeyException) = e is InvalidatedKeyException

        /** An AES key the JCE refuses, as the keystore refuses an invalidated one. */
        private class Invalidated(private val real: SecretKey) : SecretKey {
            override fun getAlgorithm() = "Invalidated"
            override fun getFormat() = real.format
            override fun getEncoded(): ByteArray = throw InvalidatedKeyException()
        }
    }

    @Test
    fun firstUseCreatesWrapsAndStoresAKey() = runBlocking<Unit> {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val vault = vaultOver(store, wrapping)
        val key = vault.dataKey(journalExists = false)
        assertEquals(32, key.size)
        val saved = assertNotNull(store.saved)
        assertEquals(12, saved.iv.size)
        assertEquals(32 + 16, saved.ciphertext.size)
        assertFalse(saved.ciphertext.copyOf(32).contentEquals(key), "stored wrapped, not raw")
        // Later calls (and a new vault over the same storage) unwrap the same key.
        assertContentEquals(key, vault.dataKey(journalExists = true))
        assertContentEquals(key, vaultOver(store, wrapping).dataKey(journalExists = true))
        assertEquals(1, wrapping.created)
    }

    @Test
    fun theVaultKeyOpensAJournal() = runBlocking<Unit> {
        val tmp = TempFolder()
        try {
            val vault = vaultOver(MemoryStore(), SoftwareWrappingKey())
            val file = java.io.File(tmp.path())
            val id = Journal.openOrCreate(file.path, vault.dataKey(file.exists())).use { j ->
                j.log(mood(6.0)).id.also { j.closeJournal() }
            }
            Journal.openOrCreate(file.path, vault.dataKey(file.exists())).use { j ->
                assertEquals(Value.Scale(6.0), j.entry(id).value)
                j.closeJournal()
            }
        } finally {
            tmp.delete()
        }
    }

    @Test
    fun noStoredKeyForAnExistingJournalIsAnErrorNotANewKey() = runBlocking<Unit> {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        assertFailsWith<KeyVaultException.DataKeyMissing> { vaultOver(store, wrapping).dataKey(journalExists = true) }
        assertNull(store.saved)
        assertEquals(0, wrapping.created)
    }

    @Test
    fun invalidatedWrappingKeyIsATypedErrorAndKeepsTheWrappedKey() = runBlocking<Unit> {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val vault = vaultOver(store, wrapping)
        vault.dataKey(journalExists = false)
        val saved = store.saved
        wrapping.invalidated = true
        assertFailsWith<KeyVaultException.WrappingKeyInvalidated> { vault.dataKey(journalExists = true) }
        // Also when the journal file is missing: a stored key is never replaced.
        assertFailsWith<KeyVaultException.WrappingKeyInvalidated> { vault.dataKey(journalExists = false) }
        assertSame(saved, store.saved)
        assertEquals(1, wrapping.created)
    }

    @Test
    fun missingWrappingKeyIsATypedError() = runBlocking<Unit> {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        vaultOver(store, wrapping).dataKey(journalExists = false)
        wrapping.delete()
        assertFailsWith<KeyVaultException.WrappingKeyMissing> { vaultOver(store, wrapping).dataKey(journalExists = true) }
        assertEquals(1, wrapping.created)
    }

    @Test
    fun tamperedWrappedKeyIsUnreadable() = runBlocking<Unit> {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val vault = vaultOver(store, wrapping)
        vault.dataKey(journalExists = false)
        val saved = store.saved!!
        store.saved = WrappedKey(saved.iv, saved.ciphertext.copyOf().also { it[3] = (it[3] + 1).toByte() })
        assertFailsWith<KeyVaultException.WrappedKeyUnreadable> { vault.dataKey(journalExists = true) }
        // Sealed under another wrapping key: also unreadable.
        store.saved = saved
        wrapping.create()
        assertFailsWith<KeyVaultException.WrappedKeyUnreadable> { vault.dataKey(journalExists = true) }
    }

    @Test
    fun invalidatedKeyWithNothingWrappedIsReplaced() = runBlocking<Unit> {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        wrapping.create()
        wrapping.invalidated = true
        val key = vaultOver(store, wrapping).dataKey(journalExists = false)
        assertEquals(2, wrapping.created)
        assertContentEquals(key, vaultOver(store, wrapping).dataKey(journalExists = true))
    }

    @Test
    fun forgetDropsBothKeys() = runBlocking<Unit> {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val vault = vaultOver(store, wrapping)
        val first = vault.dataKey(journalExists = false)
        vault.forget()
        assertNull(store.saved)
        assertNull(wrapping.key)
        assertFalse(first.contentEquals(vault.dataKey(journalExists = false)))
    }

    /** A journal with one entry at `journal.cairn` in [tmp], sealed with [key]; returns its path. */
    private suspend fun journalWith(tmp: TempFolder, key: ByteArray): File {
        val file = File(tmp.path())
        Journal.create(file.path, key).use { it.log(mood(4.0)); it.closeJournal() }
        return file
    }

    private fun inTemp(block: suspend (TempFolder) -> Unit) = runBlocking {
        val tmp = TempFolder()
        try {
            block(tmp)
        } finally {
            tmp.delete()
        }
    }

    @Test
    fun aJournalWithoutItsKeyIsDataKeyMissingAndKeepsTheFile() = inTemp { tmp ->
        // Restored or copied onto a phone that never held its key.
        val file = journalWith(tmp, generateKey())
        val before = file.readBytes()
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        assertFailsWith<KeyVaultException.DataKeyMissing> { vaultOver(store, wrapping).open(file) }
        assertTrue(store.slots.isEmpty(), "no key made for it")
        assertEquals(0, wrapping.created)
        assertContentEquals(before, file.readBytes())
    }

    @Test
    fun anInvalidatedKeystoreKeyIsWrappingKeyInvalidatedOnOpenAndKeepsEverything() = inTemp { tmp ->
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val file = File(tmp.path())
        vaultOver(store, wrapping).open(file).use { it.log(mood(5.0)); it.closeJournal() }
        val saved = store.saved
        wrapping.invalidated = true
        assertFailsWith<KeyVaultException.WrappingKeyInvalidated> { vaultOver(store, wrapping).open(file) }
        assertTrue(file.exists())
        assertSame(saved, store.saved)
        assertEquals(1, wrapping.created)
        // A re-key does not replace it either: nothing pending is saved.
        wrapping.invalidated = false
        vaultOver(store, wrapping).open(file).use { j ->
            wrapping.invalidated = true
            assertFailsWith<KeyVaultException.WrappingKeyInvalidated> { vaultOver(store, wrapping).rekey(j, file) }
            j.closeJournal()
        }
        assertNull(store.slots[KeySlot.PENDING])
        assertEquals(1, wrapping.created)
    }

    @Test
    fun aKeyThatDoesNotOpenTheJournalIsDataKeyRejected() = inTemp { tmp ->
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        vaultOver(store, wrapping).dataKey(journalExists = false).fill(0)
        val saved = store.saved
        // A journal from another install, sealed with another key.
        val file = journalWith(tmp, generateKey())
        val e = assertFailsWith<KeyVaultException.DataKeyRejected> { vaultOver(store, wrapping).open(file) }
        assertTrue(e.cause is CairnException.WrongKey)
        assertSame(saved, store.saved)
    }

    @Test
    fun aMissingKeystoreKeyIsWrappingKeyMissingOnOpen() = inTemp { tmp ->
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val file = File(tmp.path())
        vaultOver(store, wrapping).open(file).use { it.closeJournal() }
        wrapping.delete()
        assertFailsWith<KeyVaultException.WrappingKeyMissing> { vaultOver(store, wrapping).open(file) }
        assertEquals(1, wrapping.created)
        assertNull(wrapping.key, "not recreated")
    }

    @Test
    fun startingOverSetsTheOldJournalAsideAndOpensANewOne() = inTemp { tmp ->
        // Restored onto a phone without its key: DataKeyMissing.
        val file = journalWith(tmp, generateKey())
        File(file.path + "-wal").writeText("log") // a side file moves with it
        val before = file.readBytes()
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        assertFailsWith<KeyVaultException.DataKeyMissing> { vaultOver(store, wrapping).open(file) }
        val aside = assertNotNull(vaultOver(store, wrapping).startOver(file))
        assertFalse(file.exists())
        assertFalse(File(file.path + "-wal").exists())
        assertTrue(aside.name.startsWith("journal.cairn.unreadable-"), aside.name)
        assertContentEquals(before, aside.readBytes(), "the old journal is kept as it was")
        assertEquals("log", File(aside.path + "-wal").readText())
        vaultOver(store, wrapping).open(file).use { j ->
            assertEquals(0, j.allEntries().size, "a new, empty journal")
            j.closeJournal()
        }
        // Twice in the same second: a second name, nothing overwritten.
        val again = assertNotNull(vaultOver(store, wrapping).startOver(file))
        assertNotEquals(aside, again)
        assertContentEquals(before, aside.readBytes())
        assertTrue(again.exists())
    }

    @Test
    fun startingOverAfterAnInvalidatedKeystoreKeyMakesNewKeys() = inTemp { tmp ->
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val file = File(tmp.path())
        vaultOver(store, wrapping).open(file).use { it.log(mood(5.0)); it.closeJournal() }
        wrapping.invalidated = true
        assertFailsWith<KeyVaultException.WrappingKeyInvalidated> { vaultOver(store, wrapping).open(file) }
        val aside = assertNotNull(vaultOver(store, wrapping).startOver(file))
        assertNull(store.saved)
        assertNull(wrapping.key)
        vaultOver(store, wrapping).open(file).use { j ->
            assertEquals(0, j.allEntries().size)
            j.closeJournal()
        }
        assertEquals(2, wrapping.created)
        assertTrue(aside.exists())
        assertNull(vaultOver(store, wrapping).startOver(File(tmp.path("none.cairn"))), "no journal: nothing set aside")
    }
}
