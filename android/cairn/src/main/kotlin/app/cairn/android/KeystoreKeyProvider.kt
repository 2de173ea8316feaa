package app.cairn.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import app.cairn.Journal
import app.cairn.RekeyReport
import app.cairn.ZoneDatabase
import java.io.File
import java.io.IOException
import java.security.InvalidKeyException
import java.security.KeyStore
import java.util.Base64
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey

/**
 * The journal's data key, held by the platform: a random 32-byte key from
 * `generateKey()`, wrapped with a non-exportable AES-256-GCM key in the Android
 * Keystore and stored wrapped in the app's no-backup directory
 * (`noBackupFilesDir/app.cairn.keys.key`).
 *
 * ```
 * val file = File(context.noBackupFilesDir, "journal.cairn")
 * val journal = Journal.openOrCreate(file, KeystoreKeyProvider(context))
 * ```
 *
 * Every operation holds a lock shared by all providers of the process for
 * the same [name] and a file lock (`app.cairn.keys.lock`) against the app's
 * other processes, and reads the stored key afresh under it: two first runs
 * racing (the app and a reminder receiver, or two processes) get the same
 * key. The wrapping key needs no user authentication, so reminders and
 * background sync can open the journal while the phone is locked; it is
 * bound to this device and never leaves the keystore. Keep the journal in
 * `noBackupFilesDir` too (see android/README.md): a restored wrapped key
 * cannot be unwrapped on another device.
 *
 * Every function suspends and does its keystore and disk I/O on
 * `Dispatchers.IO`: call it from any coroutine, the main thread's included.
 *
 * @param alias the keystore alias of the wrapping key.
 * @param name the base name of the key files (`<name>.key`, `<name>.pending`, `<name>.lock`).
 * @param directory where they are kept; `noBackupFilesDir` unless you have a reason.
 */
class KeystoreKeyProvider(
    context: Context,
    alias: String = DEFAULT_ALIAS,
    private val name: String = DEFAULT_NAME,
    directory: File = context.applicationContext.noBackupFilesDir,
) {
    private val app = context.applicationContext
    private val store = FileWrappedKeyStore(directory, name)
    private val lock = KeyLock(File(directory, "$name.lock"))
    private val vault = DataKeyVault(store, AndroidKeystoreWrappingKey(alias), lock)

    /**
     * Opens the journal at [journal], creating it and its key when neither
     * exists, and finishing or undoing a re-key a killed process left
     * half-way. `Journal.openOrCreate(file, keys)` says the same.
     *
     * @throws KeyVaultException when the journal's key is not available on
     *   this phone; never answered by making a new key while the journal exists.
     * @throws app.cairn.CairnException from the journal (`NotAStore`,
     *   `Corrupted`...).
     */
    suspend fun open(journal: File, zones: ZoneDatabase? = null): Journal = lock.withLock {
        adoptPreferencesKey()
        vault.open(journal, zones)
    }

    /**
     * Re-keys the open [journal] at [file] under a new key, crash-safely
     * (pending key saved, journal re-keyed, pending key promoted). [journal]
     * goes on working with the new key; a journal open on the same file in
     * another process gets `WrongKey` and must be opened again.
     *
     * @throws KeyVaultException when the current key is not available.
     * @throws app.cairn.CairnException from the journal's re-key.
     */
    suspend fun rekey(journal: Journal, file: File): RekeyReport = lock.withLock {
        adoptPreferencesKey()
        vault.rekey(journal, file)
    }

    /**
     * The current data key for the journal at [journal]. Creates one only when
     * neither a wrapped key nor the journal file exists. Prefer [open], which
     * also settles an interrupted re-key. `fill(0)` the array once the journal
     * is open.
     *
     * @throws KeyVaultException when the key is not available.
     */
    suspend fun dataKey(journal: File): ByteArray = lock.withLock {
        adoptPreferencesKey()
        vault.dataKey(journalExists = journal.exists())
    }

    /**
     * Once the patient has agreed to start a new journal after a
     * [KeyVaultException]: moves the journal at [journal] aside (deleting
     * nothing) and forgets the keys, so that the next [open] creates a new
     * journal. Close the journal everywhere first. See [DataKeyVault.startOver].
     *
     * @return where the old journal is now, or null if there was none.
     */
    suspend fun startOver(journal: File): File? = lock.withLock {
        adoptPreferencesKey()
        vault.startOver(journal)
    }

    /** Forgets the data key and the keystore key: only after deleting or moving aside the journal ([startOver] does both). */
    suspend fun forget(): Unit = lock.withLock {
        adoptPreferencesKey() // so that no copy left in SharedPreferences comes back
        vault.forget()
    }

    /**
     * Moves a wrapped key that an earlier build kept in SharedPreferences
     * (named like the key files) into the key file. Called holding the lock,
     * on `Dispatchers.IO`.
     */
    private fun adoptPreferencesKey() {
        val prefs = app.getSharedPreferences(name, Context.MODE_PRIVATE)
        val iv = prefs.getString(LEGACY_IV, null)
        val ciphertext = prefs.getString(LEGACY_CIPHERTEXT, null)
        if (iv != null && ciphertext != null) {
            if (store.load(KeySlot.CURRENT) == null) {
                val decoder = Base64.getDecoder()
                store.save(KeySlot.CURRENT, WrappedKey(decoder.decode(iv), decoder.decode(ciphertext)))
            }
            if (!prefs.edit().remove(LEGACY_IV).remove(LEGACY_CIPHERTEXT).commit()) {
                throw IOException("could not remove the journal key from SharedPreferences")
            }
        }
    }

    companion object {
        const val DEFAULT_ALIAS = "app.cairn.journal-key-wrapper"
        const val DEFAULT_NAME = "app.cairn.keys"

        private const val LEGACY_IV = "journal_key_iv"
        private const val LEGACY_CIPHERTEXT = "journal_key_wrapped"
    }
}

/**
 * Opens the journal at [file] with the key [keys] keeps, creating both on
 * first use and settling a re-key a killed process left half-way:
 *
 * ```
 * val journal = Journal.openOrCreate(File(context.noBackupFilesDir, "journal.cairn"), KeystoreKeyProvider(context))
 * ```
 *
 * The same as `keys.open(file, zones)`; see [KeystoreKeyProvider.open].
 *
 * @throws KeyVaultException when the journal's key is not available on this
 *   phone (see android/README.md for what to tell the patient).
 * @throws app.cairn.CairnException from the journal.
 */
suspend fun Journal.Companion.openOrCreate(
    file: File,
    keys: KeystoreKeyProvider,
    zones: ZoneDatabase? = null,
): Journal = keys.open(file, zones)

/**
 * Re-keys this open journal, kept at [file], under a new key from [keys], so
 * that a kill at any step loses no key (see [KeystoreKeyProvider.rekey]).
 */
suspend fun Journal.rekey(file: File, keys: KeystoreKeyProvider): RekeyReport = keys.rekey(this, file)

/** An AES-256-GCM key in the AndroidKeyStore, usable only for wrapping on this device. */
class AndroidKeystoreWrappingKey(private val alias: String) : WrappingKey {
    private fun keyStore(): KeyStore = KeyStore.getInstance(ANDROID_KEY_STORE).apply { load(null) }

    override fun get(): SecretKey? = keyStore().getKey(alias, null) as SecretKey?

    override fun create(): SecretKey {
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .setRandomizedEncryptionRequired(true)
            .build()
        return KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEY_STORE)
            .apply { init(spec) }
            .generateKey()
    }

    override fun delete() {
        val ks = keyStore()
        if (ks.containsAlias(alias)) ks.deleteEntry(alias)
    }

    override fun isPermanentlyInvalidated(e: InvalidKeyException): Boolean = e is KeyPermanentlyInvalidatedException

    private companion object {
        const val ANDROID_KEY_STORE = "AndroidKeyStore"
    }
}
