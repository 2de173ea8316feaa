package app.cairn.android

import app.cairn.generateKey
import java.security.GeneralSecurityException
import java.security.InvalidKeyException
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

// Plain JVM code (no android.* imports), so that tests/kotlin.sh runs its
// tests on the desktop; KeystoreKeyProvider plugs the Android pieces in.

/** A data key sealed with AES-256-GCM under the wrapping key. */
class WrappedKey(val iv: ByteArray, val ciphertext: ByteArray)

/** Where the wrapped data key is kept, in app-private storage. */
interface WrappedKeyStore {
    /** The stored wrapped key, or null if none was saved. */
    fun load(): WrappedKey?

    /** Saves the wrapped key; durable when it returns (a journal is created right after). */
    fun save(key: WrappedKey)

    /** Forgets the wrapped key. */
    fun delete()
}

/** The non-exportable key that wraps the data key (Android: an AndroidKeyStore AES key). */
interface WrappingKey {
    /** The key, or null if none exists. */
    fun get(): SecretKey?

    /** Creates the key (replacing any previous one) and returns it. */
    fun create(): SecretKey

    /** Deletes the key, if any. */
    fun delete()

    /** Whether [e], thrown by `Cipher.init`, means the key can never be used again. */
    fun isPermanentlyInvalidated(e: InvalidKeyException): Boolean
}

/** Why the data key is not available. No case is resolved by silently making a new key. */
sealed class KeyVaultException(message: String, cause: Throwable? = null) : Exception(message, cause) {
    /**
     * The platform invalidated the wrapping key (on Android,
     * `KeyPermanentlyInvalidatedException`: keys bound to user authentication
     * are invalidated when the secure lock screen is removed or biometrics
     * change). The journal's key cannot be recovered on this device: the app
     * decides, with the patient, whether to restore from the clinic or start
     * over ([DataKeyVault.forget], then delete the journal).
     */
    class WrappingKeyInvalidated(cause: Throwable) :
        KeyVaultException("the keystore key that protects the journal key was permanently invalidated", cause)

    /** A wrapped data key is stored but the key that wraps it is gone (app data restored onto another device, keystore cleared). */
    class WrappingKeyMissing : KeyVaultException("the keystore key that protects the journal key is missing")

    /** A journal exists but no wrapped data key is stored: a new key would not open it. */
    class DataKeyMissing : KeyVaultException("a journal exists but its key is not stored")

    /** The stored wrapped key failed authentication (damaged, or sealed under another wrapping key). */
    class WrappedKeyUnreadable(cause: Throwable) :
        KeyVaultException("the stored journal key could not be unwrapped", cause)
}

/**
 * Keeps the journal's 32-byte data key, wrapped by a [WrappingKey] and stored
 * in a [WrappedKeyStore]. Blocking (keystore and disk I/O): call off the main
 * thread. The returned array is the caller's: pass it to `Journal.open` and
 * then `fill(0)` it.
 */
class DataKeyVault(private val store: WrappedKeyStore, private val wrapping: WrappingKey) {
    /**
     * The data key. Creates, wraps and saves one only when none is stored and
     * [journalExists] is false; otherwise unwraps the stored one.
     *
     * @throws KeyVaultException when the key is not available.
     */
    @Synchronized
    fun dataKey(journalExists: Boolean): ByteArray {
        val wrapped = store.load()
        if (wrapped == null) {
            if (journalExists) throw KeyVaultException.DataKeyMissing()
            return createDataKey()
        }
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

    /**
     * Forgets the data key and the wrapping key. Only for when the journal was
     * deleted (or the patient chose to start over after [KeyVaultException]).
     */
    @Synchronized
    fun forget() {
        store.delete()
        wrapping.delete()
    }

    private fun createDataKey(): ByteArray {
        val cipher = encryptor()
        cipher.updateAAD(AAD)
        val dataKey = generateKey()
        // The IV comes from the cipher: Android's keystore refuses caller IVs.
        val ciphertext = cipher.doFinal(dataKey)
        store.save(WrappedKey(cipher.iv, ciphertext))
        return dataKey
    }

    private fun encryptor(): Cipher {
        val existing = wrapping.get()
        if (existing != null) {
            try {
                return Cipher.getInstance(TRANSFORMATION).apply { init(Cipher.ENCRYPT_MODE, existing) }
            } catch (e: InvalidKeyException) {
                // Nothing is wrapped under it yet (no wrapped key is stored and
                // no journal exists), so replacing an invalidated key loses nothing.
                if (!wrapping.isPermanentlyInvalidated(e)) throw e
            }
        }
        return Cipher.getInstance(TRANSFORMATION).apply { init(Cipher.ENCRYPT_MODE, wrapping.create()) }
    }

    private companion object {
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val TAG_BITS = 128
        const val KEY_BYTES = 32

        /** Binds the ciphertext to its purpose. */
        val AAD = "cairn journal data key v1".toByteArray()
    }
}
