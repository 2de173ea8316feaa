package app.cairn

import app.cairn.android.DataKeyVault
import app.cairn.android.KeyVaultException
import app.cairn.android.WrappedKey
import app.cairn.android.WrappedKeyStore
import app.cairn.android.WrappingKey
import org.junit.Test
import java.security.InvalidKeyException
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertSame

/**
 * The key handling behind KeystoreKeyProvider, with a software AES key in
 * place of the Android Keystore (the Keystore itself needs a device).
 */
class DataKeyVaultTest {
    private class MemoryStore : WrappedKeyStore {
        var saved: WrappedKey? = null
        override fun load() = saved
        override fun save(key: WrappedKey) { saved = key }
        override fun delete() { saved = null }
    }

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
    fun firstUseCreatesWrapsAndStoresAKey() {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val vault = DataKeyVault(store, wrapping)
        val key = vault.dataKey(journalExists = false)
        assertEquals(32, key.size)
        val saved = assertNotNull(store.saved)
        assertEquals(12, saved.iv.size)
        assertEquals(32 + 16, saved.ciphertext.size)
        assertFalse(saved.ciphertext.copyOf(32).contentEquals(key), "stored wrapped, not raw")
        // Later calls (and a new vault over the same storage) unwrap the same key.
        assertContentEquals(key, vault.dataKey(journalExists = true))
        assertContentEquals(key, DataKeyVault(store, wrapping).dataKey(journalExists = true))
        assertEquals(1, wrapping.created)
    }

    @Test
    fun theVaultKeyOpensAJournal() {
        val tmp = TempFolder()
        try {
            val vault = DataKeyVault(MemoryStore(), SoftwareWrappingKey())
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
    fun noStoredKeyForAnExistingJournalIsAnErrorNotANewKey() {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        assertFailsWith<KeyVaultException.DataKeyMissing> { DataKeyVault(store, wrapping).dataKey(journalExists = true) }
        assertNull(store.saved)
        assertEquals(0, wrapping.created)
    }

    @Test
    fun invalidatedWrappingKeyIsATypedErrorAndKeepsTheWrappedKey() {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val vault = DataKeyVault(store, wrapping)
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
    fun missingWrappingKeyIsATypedError() {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        DataKeyVault(store, wrapping).dataKey(journalExists = false)
        wrapping.delete()
        assertFailsWith<KeyVaultException.WrappingKeyMissing> { DataKeyVault(store, wrapping).dataKey(journalExists = true) }
        assertEquals(1, wrapping.created)
    }

    @Test
    fun tamperedWrappedKeyIsUnreadable() {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val vault = DataKeyVault(store, wrapping)
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
    fun invalidatedKeyWithNothingWrappedIsReplaced() {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        wrapping.create()
        wrapping.invalidated = true
        val key = DataKeyVault(store, wrapping).dataKey(journalExists = false)
        assertEquals(2, wrapping.created)
        assertContentEquals(key, DataKeyVault(store, wrapping).dataKey(journalExists = true))
    }

    @Test
    fun forgetDropsBothKeys() {
        val store = MemoryStore()
        val wrapping = SoftwareWrappingKey()
        val vault = DataKeyVault(store, wrapping)
        val first = vault.dataKey(journalExists = false)
        vault.forget()
        assertNull(store.saved)
        assertNull(wrapping.key)
        assertFalse(first.contentEquals(vault.dataKey(journalExists = false)))
    }
}
