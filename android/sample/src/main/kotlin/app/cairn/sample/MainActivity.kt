package app.cairn.sample

import android.os.Bundle
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import app.cairn.CairnException
import app.cairn.EntryQuery
import app.cairn.Journal
import app.cairn.NewEntry
import app.cairn.Value
import app.cairn.android.KeyVaultException
import app.cairn.android.KeystoreKeyProvider
import app.cairn.android.openOrCreate
import app.cairn.entriesFlow
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.File
import java.security.GeneralSecurityException
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle

/**
 * Opens (or creates) the journal with a keystore-held key, logs a mood of 7,
 * and shows the latest mood entry for as long as the screen is visible,
 * updated after every commit (entriesFlow). Every Cairn call suspends and
 * does its work off the main thread: no Dispatchers.IO needed here.
 *
 * A real app keeps one journal open per process (an Application-scoped
 * holder, see android/README.md); the sample opens it for this screen.
 */
class MainActivity : AppCompatActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val status = TextView(this).apply { setPadding(48, 48, 48, 48) }
        setContentView(status)
        status.text = "Opening the journal…"

        lifecycleScope.launch {
            val journal = try {
                // Creates the journal and its key on first use; settles a
                // re-key that a killed process left half-way.
                Journal.openOrCreate(File(noBackupFilesDir, "journal.cairn"), KeystoreKeyProvider(applicationContext))
            } catch (e: KeyVaultException) {
                // Never answered by creating a new key: the patient's data is
                // at stake. A real app explains it in plain words (android/README.md).
                status.text = "The journal on this phone can't be unlocked (${e::class.simpleName})."
                return@launch
            } catch (e: GeneralSecurityException) {
                status.text = "The keystore failed: ${e::class.simpleName}"
                return@launch
            } catch (e: CairnException) {
                status.text = "Cairn refused: ${e.message}"
                return@launch
            }
            try {
                journal.log(
                    NewEntry(
                        tracker = "mood",
                        value = Value.Scale(7.0),
                        at = Instant.now(),
                        // An IANA zone on almost every phone; a custom offset
                        // zone ("GMT+02:00") is refused as UnknownZone.
                        zone = ZoneId.systemDefault(),
                    ),
                )
                val latest = EntryQuery(tracker = "mood", newestFirst = true, limit = 1)
                repeatOnLifecycle(Lifecycle.State.STARTED) {
                    journal.entriesFlow(latest).collect { page ->
                        val entry = page.entries.firstOrNull()
                        status.text = if (entry == null) {
                            "No mood logged yet."
                        } else {
                            val time = entry.at.atZone(entry.zone).format(DateTimeFormatter.ofLocalizedTime(FormatStyle.SHORT))
                            "Latest mood: ${(entry.value as Value.Scale).value.toInt()} at $time."
                        }
                    }
                }
            } catch (e: CairnException.UnknownZone) {
                status.text = "This phone's time zone (${ZoneId.systemDefault().id}) is not one Cairn knows."
            } catch (e: CairnException) {
                // Messages name a field or a record id, never what the patient wrote.
                status.text = "Cairn refused: ${e.message}"
            } finally {
                // Waits until the file is closed, even though the screen is going away.
                withContext(NonCancellable) { journal.closeJournal() }
                journal.close()
            }
        }
    }
}
