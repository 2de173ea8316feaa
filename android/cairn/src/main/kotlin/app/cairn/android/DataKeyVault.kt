package app.cairn.android

import app.cairn.CairnException
import app.cairn.Journal
import app.cairn.RekeyReport
import app.cairn.ZoneDatabase
import app.cairn.generateKey
import java.io.File
import java.io.IOException
import java.nio.channels.FileChannel
import java.nio.file.AtomicMoveNotSupportedException
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import java.nio.file.StandardOpenOption
import java.security.GeneralSecurityException
import java.security.InvalidKeyException
import java.time.Instant
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
import java.util.Base64
import java.util.concurrent.ConcurrentHashMap
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import kotlin.coroutines.AbstractCoroutineContextElement
import kotlin.coroutines.CoroutineContext
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext

// Plain JVM code (no android.* imports), so that tests/kotlin.sh runs its
// tests on the desktop; KeystoreKeyProvider plugs the Android pieces in.

/** A data key sealed with AES-256-GCM under the wrapping key. */
class WrappedKey(val iv: ByteArray, val ciphertext: ByteArray)

/** Which stored key: the journal's own, or the one a re-key is handing over. */
enum class KeySlot {
    /** The key the journal is sealed with. */
    CURRENT,

    /** The new key of a re-key in progress: saved before the journal is re-keyed, promoted after. */
    PENDING,
}

/**
 * Where the wrapped data keys are kept, in app-private storage. Every write is
 * durable when it returns (a journal is created or re-keyed right after), and
 * [load] reads what is stored now, not a copy cached in this process: another
 * process may have written since.
 */
interface WrappedKeyStore {
    /** The wrapped key in [slot], or null if none is saved. */
    fun load(slot: KeySlot): WrappedKey?

    /** Saves [key] into [slot], replacing what was there. */
    fun save(slot: KeySlot, key: WrappedKey)

    /** Forgets the key in [slot], if any. */
    fun delete(slot: KeySlot)

    /**
     * The pending key becomes the current one and the pending slot is
     * emptied. This default does it in two steps, current first, so that a
     * kill in between leaves both slots holding the new key (which
     * [DataKeyVault.open] resolves); a store that can do it in one atomic
     * step should.
     */
    fun promotePending() {
        val pending = load(KeySlot.PENDING) ?: throw IOException("no pending journal key to promote")
        save(KeySlot.CURRENT, pending)
        delete(KeySlot.PENDING)
    }
}

/** The non-exportable key that wraps the data key (Android: an AndroidKeyStore AES key). */
interface WrappingKey {
    /** The key, or null if none exists. */
    fun get(): SecretKey?

    /**
     * Creates the key (replacing any previous one) and returns it. The vault
     * calls it only when no key exists, or when the existing one is
     * permanently invalidated and nothing is wrapped under it.
     */
    fun create(): SecretKey

    /** Deletes the key, if any. */
    fun delete()

    /** Whether [e], thrown by `Cipher.init`, means the key can never be used again. */
    fun isPermanentlyInvalidated(e: InvalidKeyException): Boolean
}

/**
 * Why the journal's key is not available. No case is resolved by silently
 * making a new key: each means that the journal file on this phone cannot be
 * opened any more (see android/README.md for what to tell the patient).
 */
sealed class KeyVaultException(message: String, cause: Throwable? = null) : Exception(message, cause) {
    /**
     * The platform invalidated the wrapping key (on Android,
     * `KeyPermanentlyInvalidatedException`: keys bound to user authentication
     * are invalidated when the secure lock screen is removed or biometrics
     * change). The journal's key cannot be recovered on this device: the app
     * decides, with the patient, whether to restore from the clinic or start
     * over ([DataKeyVault.forget], after moving the old journal aside).
     */
    class WrappingKeyInvalidated(cause: Throwable) :
        KeyVaultException("the keystore key that protects the journal key was permanently invalidated", cause)

    /** A wrapped data key is stored but the key that wraps it is gone (app data restored onto another device, keystore cleared). */
    class WrappingKeyMissing : KeyVaultException("the keystore key that protects the journal key is missing")

    /**
     * A journal exists but no wrapped data key is stored: the journal was
     * restored or copied onto a phone that never held its key, or the app's
     * key file was cleared while the journal stayed. A new key would not
     * open it, so none is made.
     */
    class DataKeyMissing : KeyVaultException("a journal exists but its key is not stored")

    /** The stored wrapped key failed authentication (damaged, or sealed under another wrapping key). */
    class WrappedKeyUnreadable(cause: Throwable) :
        KeyVaultException("the stored journal key could not be unwrapped", cause)

    /**
     * A key is stored and unwrapped, but the journal refuses it (and the
     * pending key of an interrupted re-key, if any): the file was sealed
     * with a key this phone does not hold, e.g. a journal copied from
     * another install. [cause] is the core's `CairnException.WrongKey`.
     */
    class DataKeyRejected(cause: Throwable) :
        KeyVaultException("the stored journal key does not open the journal", cause)
}

/**
 * Serialises the key operations on one key store: a [Mutex] per [file]
 * shared by every [KeyLock] of this process naming the same file (however
 * many [DataKeyVault]s or providers the app creates), and an exclusive
 * `FileChannel.lock()` on [file] against other processes of the app.
 * Reentrant within the coroutine that holds it (and the coroutines it
 * starts inside [withLock]).
 *
 * Both are needed: file locks are held per process (a second lock from the
 * same process throws `OverlappingFileLockException` rather than waiting),
 * and a lock object in memory does not reach another process. The lock in
 * memory is a coroutine [Mutex], not a thread's lock: the key operations
 * suspend while the journal opens, and resume on any thread.
 */
class KeyLock(file: File) {
    private val file: File = file.absoluteFile
    private val path: String = canonical(this.file)
    private val local: Mutex = LOCKS.computeIfAbsent(path) { Mutex() }

    /**
     * Runs [block] holding both locks, on `Dispatchers.IO` (the file lock
     * and the key files are disk I/O); suspends until the lock in memory is
     * free, and blocks an IO thread while another process holds the file.
     */
    suspend fun <T> withLock(block: suspend () -> T): T {
        val held = currentCoroutineContext()[Held]
        if (held != null && path in held.paths) return block()
        return local.withLock {
            withContext(Dispatchers.IO + Held(held?.paths.orEmpty() + path)) {
                file.parentFile?.mkdirs()
                FileChannel.open(file.toPath(), StandardOpenOption.CREATE, StandardOpenOption.WRITE).use { channel ->
                    channel.lock() // released when the channel closes
                    block()
                }
            }
        }
    }

    /** The lock files the current coroutine holds: what makes [withLock] reentrant. */
    private class Held(val paths: Set<String>) : AbstractCoroutineContextElement(Held) {
        companion object Key : CoroutineContext.Key<Held>
    }

    private companion object {
        /** One lock per lock file in the process, never removed (a handful of entries at most). */
        val LOCKS = ConcurrentHashMap<String, Mutex>()

        fun canonical(file: File): String = try {
            file.canonicalPath
        } catch (e: IOException) {
            file.path
        }
    }
}

/**
 * Wrapped keys as small files in a directory (Android: `noBackupFilesDir`,
 * which is never backed up): `<name>.key` and, during a re-key,
 * `<name>.pending`. Each write goes to a temporary file that is synced and
 * renamed over the old one, and the directory is synced after, so a kill
 * leaves either the old or the new content. Every [load] reads the file, so
 * a key saved by another process is seen.
 */
class FileWrappedKeyStore(private val directory: File, private val name: String) : WrappedKeyStore {
    init {
        require(name.isNotEmpty() && '/' !in name) { "a plain file name, not \"$name\"" }
    }

    private fun file(slot: KeySlot) = File(directory, if (slot == KeySlot.CURRENT) "$name.key" else "$name.pending")

    override fun load(slot: KeySlot): WrappedKey? {
        val bytes = try {
            Files.readAllBytes(file(slot).toPath())
        } catch (e: java.nio.file.NoSuchFileException) {
            return null
        }
        val lines = String(bytes, Charsets.US_ASCII).split('\n')
        if (lines.size < 3 || lines[0] != FORMAT) {
            throw KeyVaultException.WrappedKeyUnreadable(IOException("the stored journal key file is malformed"))
        }
        return try {
            val decoder = Base64.getDecoder()
            WrappedKey(decoder.decode(lines[1]), decoder.decode(lines[2]))
        } catch (e: IllegalArgumentException) {
            throw KeyVaultException.WrappedKeyUnreadable(IOException("the stored journal key file is malformed", e))
        }
    }

    override fun save(slot: KeySlot, key: WrappedKey) {
        directory.mkdirs()
        val encoder = Base64.getEncoder()
        val text = "$FORMAT\n${encoder.encodeToString(key.iv)}\n${encoder.encodeToString(key.ciphertext)}\n"
        val tmp = File(directory, "$name.tmp")
        FileChannel.open(
            tmp.toPath(),
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING,
        ).use { channel ->
            val buffer = java.nio.ByteBuffer.wrap(text.toByteArray(Charsets.US_ASCII))
            while (buffer.hasRemaining()) channel.write(buffer)
            channel.force(true)
        }
        move(tmp, file(slot))
    }

    override fun delete(slot: KeySlot) {
        if (Files.deleteIfExists(file(slot).toPath())) syncDirectory()
    }

    /** One rename: a kill leaves either the old current key and the pending one, or the new current key alone. */
    override fun promotePending() {
        val pending = file(KeySlot.PENDING)
        if (!pending.exists()) throw IOException("no pending journal key to promote")
        move(pending, file(KeySlot.CURRENT))
    }

    private fun move(from: File, to: File) {
        try {
            Files.move(from.toPath(), to.toPath(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING)
        } catch (e: AtomicMoveNotSupportedException) {
            throw IOException("the key directory cannot rename atomically", e)
        }
        syncDirectory()
    }

    /** Makes the rename durable (POSIX: the directory entry is data of the directory). */
    private fun syncDirectory() {
        try {
            FileChannel.open(directory.toPath(), StandardOpenOption.READ).use { it.force(true) }
        } catch (e: IOException) {
            // Some file systems refuse to open a directory; the rename itself
            // is still atomic there.
        }
    }

    private companion object {
        const val FORMAT = "cairn-wrapped-key-v1"
    }
}

/**
 * Keeps the journal's 32-byte data key, wrapped by a [WrappingKey] and stored
 * in a [WrappedKeyStore], and hands it over crash-safely when the journal is
 * re-keyed. Every operation holds [lock] (within the process and across
 * processes) and reads the store afresh under it, so two first runs racing
 * get the same key. Every function suspends and does its keystore and disk
 * I/O on `Dispatchers.IO`: safe to call from the main thread. A returned key
 * array is the caller's: pass it to `Journal.open` and then `fill(0)` it.
 */
class DataKeyVault(
    private val store: WrappedKeyStore,
    private val wrapping: WrappingKey,
    private val lock: KeyLock,
) {
    /**
     * The current data key. Creates, wraps and saves one only when none is
     * stored and [journalExists] is false; otherwise unwraps the stored one.
     * Prefer [open], which also finishes an interrupted re-key: after one, the
     * key returned here may not open the journal until [open] has run.
     *
     * @throws KeyVaultException when the key is not available.
     */
    suspend fun dataKey(journalExists: Boolean): ByteArray = lock.withLock { currentKey(journalExists) }

    /**
     * Opens the journal at [file], creating it (and its key) when neither
     * exists, and settles a re-key a killed process left half-way: when the
     * current key opens the journal, a leftover pending key is deleted (the
     * re-key never committed); when the journal refuses the current key and
     * takes the pending one, the pending key is promoted (the re-key
     * committed, its hand-over was lost).
     *
     * @throws KeyVaultException when no stored key opens the journal.
     * @throws CairnException from the core for anything else (a damaged file...).
     */
    suspend fun open(file: File, zones: ZoneDatabase? = null): Journal = lock.withLock { openLocked(file, zones) }

    /**
     * Re-keys [journal] (open, at [file]) under a fresh data key, handing the
     * key over so that a kill at any point leaves a journal that [open]
     * opens: (a) the new key is saved wrapped as pending, durably; (b) the
     * core re-keys the journal in one transaction; (c) the pending key is
     * promoted to current. If (b) fails, or the caller is cancelled while it
     * runs (a re-key, once started, runs to its end), the outcome is settled
     * at once by trying the keys on the file, never by guessing.
     *
     * @throws KeyVaultException when the current key is not available.
     * @throws CairnException from the core's re-key; the stored keys then
     *   match the file again.
     */
    suspend fun rekey(journal: Journal, file: File): RekeyReport = lock.withLock {
        // A re-key an earlier process left half-way is settled first: a new
        // pending key must never replace one the file may be sealed with.
        if (store.load(KeySlot.PENDING) != null) settle(file)
        val current = store.load(KeySlot.CURRENT) ?: throw KeyVaultException.DataKeyMissing()
        unwrap(current).fill(0) // fails early if the wrapping key is gone
        val newKey = generateKey()
        try {
            store.save(KeySlot.PENDING, wrap(newKey, encryptor(allowReplace = false)))
            val report = try {
                journal.rekey(newKey)
            } catch (e: Exception) {
                // Usually rolled back; a failure around the commit may not
                // be, and a cancelled caller does not know: settled either
                // way, even though the caller is cancelled.
                try {
                    withContext(NonCancellable) { settle(file) }
                } catch (settling: Exception) {
                    e.addSuppressed(settling)
                }
                throw e
            }
            store.promotePending()
            report
        } finally {
            newKey.fill(0)
        }
    }

    /**
     * For a journal no stored key opens ([KeyVaultException]), once the
     * patient has agreed to start a new one: moves the journal at [journal]
     * aside, deleting nothing, and forgets the keys that could not open it,
     * so that the next [open] creates a new journal with a new key. The old
     * journal becomes `<name>.unreadable-<UTC date and time>` (a number added
     * if that exists) in the same folder; its SQLite side files (`-wal`,
     * `-shm`, `-journal`) move with it, first, so the new journal never
     * finds the old one's log. Nothing is overwritten. The journal must not
     * be open.
     *
     * @return where the old journal is now, or null if there was none.
     */
    suspend fun startOver(journal: File): File? = lock.withLock {
        val aside = if (journal.exists()) setAside(journal) else null
        forgetLocked()
        aside
    }

    /**
     * Forgets the data keys and the wrapping key. Only for when the journal was
     * deleted or moved aside (see [startOver]).
     */
    suspend fun forget(): Unit = lock.withLock { forgetLocked() }

    private fun forgetLocked() {
        store.delete(KeySlot.PENDING)
        store.delete(KeySlot.CURRENT)
        wrapping.delete()
    }

    private fun setAside(journal: File): File {
        val stamp = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC).format(Instant.now())
        fun taken(f: File) = (SIDE_FILES + "").any { File(f.path + it).exists() }
        var target = File(journal.path + ".unreadable-" + stamp)
        var n = 1
        while (taken(target)) target = File(journal.path + ".unreadable-" + stamp + "-" + ++n)
        for (suffix in SIDE_FILES + "") {
            val from = File(journal.path + suffix)
            // No copy option: refuses to replace an existing file.
            if (from.exists()) Files.move(from.toPath(), File(target.path + suffix).toPath())
        }
        return target
    }

    private fun currentKey(journalExists: Boolean): ByteArray {
        val wrapped = store.load(KeySlot.CURRENT)
        if (wrapped == null) {
            if (journalExists) throw KeyVaultException.DataKeyMissing()
            // Nothing can be sealed under a leftover pending key without a journal.
            store.delete(KeySlot.PENDING)
            return createDataKey()
        }
        return unwrap(wrapped)
    }

    private suspend fun openLocked(file: File, zones: ZoneDatabase?): Journal {
        if (!file.exists()) {
            val key = currentKey(journalExists = false)
            store.delete(KeySlot.PENDING)
            return try {
                Journal.create(file.path, key, zones)
            } finally {
                key.fill(0)
            }
        }
        val (journal, slot) = openWithStoredKeys(file, zones)
        try {
            when {
                slot == KeySlot.PENDING -> store.promotePending()
                store.load(KeySlot.PENDING) != null -> store.delete(KeySlot.PENDING)
            }
        } catch (e: Exception) {
            withContext(NonCancellable) { journal.closeJournal() }
            journal.close()
            throw e
        }
        return journal
    }

    /** Settles the stored keys against the file, as [open] does, without keeping it open. */
    private suspend fun settle(file: File) {
        if (!file.exists()) {
            store.delete(KeySlot.PENDING)
            return
        }
        openLocked(file, null).use { it.closeJournal() }
    }

    /** The journal opened with the current key, else with the pending one; and which one. */
    private suspend fun openWithStoredKeys(file: File, zones: ZoneDatabase?): Pair<Journal, KeySlot> {
        val current = store.load(KeySlot.CURRENT)
        val pending = store.load(KeySlot.PENDING)
        if (current == null && pending == null) throw KeyVaultException.DataKeyMissing()
        var refused: CairnException.WrongKey? = null
        for ((slot, wrapped) in listOf(KeySlot.CURRENT to current, KeySlot.PENDING to pending)) {
            if (wrapped == null) continue
            val key = unwrap(wrapped)
            try {
                return Journal.open(file.path, key, zones) to slot
            } catch (e: CairnException.WrongKey) {
                refused = refused ?: e
            } finally {
                key.fill(0)
            }
        }
        throw KeyVaultException.DataKeyRejected(refused!!)
    }

    private fun unwrap(wrapped: WrappedKey): ByteArray {
        val key = wrapping.get() ?: throw KeyVaultException.WrappingKeyMissing()
        val cipher = Cipher.getInstance(TRANSFORMATION)
        try {
            cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BITS, wrapped.iv))
        } catch (e: InvalidKeyException) {
            if (wrapping.isPermanentlyInvalidated(e)) throw KeyVaultException.WrappingKeyInvalidated(e)
            throw e
        }
        cipher.updateAAD(AAD)
        val dataKey = try {
            cipher.doFinal(wrapped.ciphertext)
        } catch (e: AEADBadTagException) {
            throw KeyVaultException.WrappedKeyUnreadable(e)
        }
        if (dataKey.size != KEY_BYTES) {
            dataKey.fill(0)
            throw KeyVaultException.WrappedKeyUnreadable(GeneralSecurityException("unwrapped key has the wrong size"))
        }
        return dataKey
    }

    private fun createDataKey(): ByteArray {
        // Only here, with no wrapped key stored and no journal: nothing can
        // be sealed under an invalidated wrapping key, so it may be replaced.
        val cipher = encryptor(allowReplace = true)
        val dataKey = generateKey()
        try {
            store.save(KeySlot.CURRENT, wrap(dataKey, cipher))
        } catch (e: Exception) {
            dataKey.fill(0)
            throw e
        }
        return dataKey
    }

    private fun wrap(dataKey: ByteArray, cipher: Cipher): WrappedKey {
        cipher.updateAAD(AAD)
        val ciphertext = cipher.doFinal(dataKey)
        // The IV comes from the cipher: Android's keystore refuses caller IVs.
        return WrappedKey(cipher.iv, ciphertext)
    }

    /**
     * A cipher wrapping under the existing key. An existing key is never
     * replaced, except a permanently invalidated one when [allowReplace]
     * (nothing is wrapped under it); a missing one is created.
     */
    private fun encryptor(allowReplace: Boolean): Cipher {
        val existing = wrapping.get()
        if (existing != null) {
            try {
                return Cipher.getInstance(TRANSFORMATION).apply { init(Cipher.ENCRYPT_MODE, existing) }
            } catch (e: InvalidKeyException) {
                if (!wrapping.isPermanentlyInvalidated(e)) throw e
                if (!allowReplace) throw KeyVaultException.WrappingKeyInvalidated(e)
            }
        } else if (!allowReplace) {
            throw KeyVaultException.WrappingKeyMissing()
        }
        return Cipher.getInstance(TRANSFORMATION).apply { init(Cipher.ENCRYPT_MODE, wrapping.create()) }
    }

    private companion object {
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val TAG_BITS = 128
        const val KEY_BYTES = 32

        /** Binds the ciphertext to its purpose. */
        val AAD = "cairn journal data key v1".toByteArray()

        /** SQLite's files beside a journal, moved before it. */
        val SIDE_FILES = listOf("-wal", "-shm", "-journal")
    }
}
