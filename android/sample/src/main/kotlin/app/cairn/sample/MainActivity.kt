package app.cairn.sample

import android.os.Bundle
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import app.cairn.CairnException
import app.cairn.EntryQuery
import app.cairn.NewEntry
import app.cairn.Value
import app.cairn.android.KeyVaultException
import app.cairn.android.KeystoreKeyProvider
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.File
import java.time.ZoneId

/**
 * Opens (or creates) the journal with a keystore-held key, logs a mood of 7
 * and shows how many entries the journal holds. Every Cairn call runs on
 * Dispatchers.IO: they block on disk I/O.
 */
class MainActivity : AppCompatActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val status = TextView(this).apply { setPadding(48, 48, 48, 48) }
        setContentView(status)
        status.text = "Opening the journal…"

        lifecycleScope.launch {
            status.text = withContext(Dispatchers.IO) { logMood() }
        }
    }

    private fun logMood(): String {
        val file = File(noBackupFilesDir, "journal.cairn")
        return try {
            // Creates the journal and its key on first use; settles a re-key
            // that a killed process left half-way.
            val journal = KeystoreKeyProvider(applicationContext).open(file)
            // use {} releases the native object, which closes the store.
            journal.use {
                it.log(
                    NewEntry(
                        tracker = "mood",
                        value = Value.Scale(7.0),
                        atMs = System.currentTimeMillis(),
                        // An IANA name on almost every phone; a custom offset
                        // zone ("GMT+02:00") would be refused as InvalidInput.
                        zone = ZoneId.systemDefault().id,
                    ),
                )
                val count = it.summary(EntryQuery(tracker = "mood")).sumOf { s -> s.count.toLong() }
                "Logged a mood of 7. The journal holds $count mood entries."
            }
        } catch (e: KeyVaultException) {
            // Never answered by creating a new key: the patient's data is at
            // stake. A real app explains it in plain words (android/README.md).
            "The journal on this phone can't be unlocked (${e::class.simpleName})."
        } catch (e: CairnException) {
            "Cairn refused: ${e::class.simpleName}"
        } catch (e: java.security.GeneralSecurityException) {
            "The keystore failed: ${e::class.simpleName}"
        }
    }
}
