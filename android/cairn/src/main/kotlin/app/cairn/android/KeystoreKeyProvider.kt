package app.cairn.android

import android.content.Context
import android.content.SharedPreferences
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import androidx.annotation.WorkerThread
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
 * Keystore and stored wrapped in app-private SharedPreferences.
 *
 * ```
 * val file = File(context.noBackupFilesDir, "journal.cairn")
 * val key = KeystoreKeyProvider(context).dataKey(file)
 * val journal = try { Journal.openOrCreate(file.path, key) } finally { key.fill(0) }
 * ```
 *
 * The wrapping key needs no user authentication, so reminders and background
 * sync can open the journal while the phone is locked; it is bound to this
 * device and never leaves the keystore. Exclude the preferences file and the
 * journal from Auto Backup (see android/README.md): a restored wrapped key
 * cannot be unwrapped on another device.
 *
 * @param alias the keystore alias of the wrapping key.
 * @param preferences the SharedPreferences file holding the wrapped key.
 */
class KeystoreKeyProvider(
    context: Context,
    alias: String = DEFAULT_ALIAS,
    preferences: String = DEFAULT_PREFERENCES,
) {
    private val vault = DataKeyVault(
        SharedPreferencesKeyStore(context.applicationContext.getSharedPreferences(preferences, Context.MODE_PRIVATE)),
        AndroidKeystoreWrappingKey(alias),
    )

    /**
     * The data key for the journal at [journal]. Creates one only when neither
     * a wrapped key nor the journal file exists. Blocking: call from
     * `Dispatchers.IO`. `fill(0)` the array once the journal is open.
     *
     * @throws KeyVaultException when the key is not available; never answered
     *   by making a new key while the journal exists.
     */
    @WorkerThread
    fun dataKey(journal: File): ByteArray = vault.dataKey(journalExists = journal.exists())

    /** Forgets the data key and the keystore key: only after deleting the journal. */
    @WorkerThread
    fun forget() = vault.forget()

    companion object {
        const val DEFAULT_ALIAS = "app.cairn.journal-key-wrapper"
        const val DEFAULT_PREFERENCES = "app.cairn.keys"
    }
}

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

/** The wrapped key in SharedPreferences, Base64 text, written with `commit()`. */
class SharedPreferencesKeyStore(private val prefs: SharedPreferences) : WrappedKeyStore {
    override fun load(): WrappedKey? {
        val iv = prefs.getString(IV, null) ?: return null
        val ciphertext = prefs.getString(CIPHERTEXT, null) ?: return null
        val decoder = Base64.getDecoder()
        return WrappedKey(decoder.decode(iv), decoder.decode(ciphertext))
    }

    override fun save(key: WrappedKey) {
        val encoder = Base64.getEncoder()
        // commit(), not apply(): the journal is created right after, and a key
        // still in memory when the process dies would leave it unopenable.
        val saved = prefs.edit()
            .putString(IV, encoder.encodeToString(key.iv))
            .putString(CIPHERTEXT, encoder.encodeToString(key.ciphertext))
            .commit()
        if (!saved) throw IOException("could not save the wrapped journal key")
    }

    override fun delete() {
        if (!prefs.edit().remove(IV).remove(CIPHERTEXT).commit()) {
            throw IOException("could not delete the wrapped journal key")
        }
    }

    private companion object {
        const val IV = "journal_key_iv"
        const val CIPHERTEXT = "journal_key_wrapped"
    }
}
