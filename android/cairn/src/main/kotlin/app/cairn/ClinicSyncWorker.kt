// Background sync on Android: a WorkManager worker that runs
// ClinicSyncRunner.syncNow, and the scheduling around it. Not compiled by
// tests/kotlin.sh (no WorkManager there: see android/README.md); the loop it
// runs, and the failure decisions it maps, are (ClinicSyncRunner).
package app.cairn

import android.content.Context
import android.util.Log
import androidx.core.app.NotificationChannelCompat
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.ForegroundInfo
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.OutOfQuotaPolicy
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import java.util.concurrent.TimeUnit

/**
 * What [ClinicSyncWorker] needs from the app. Implement it on the
 * `Application` (beside `ReminderHost`): the worker runs when the app is not
 * on screen and finds it through `context.applicationContext`.
 */
interface ClinicSyncHost {
    /**
     * The app's open journal (opening it if needed, with
     * `Journal.openOrCreate(File(noBackupFilesDir, "journal.cairn"), KeystoreKeyProvider(this))`),
     * or null when there is none to sync (no journal yet, signed out). Called
     * from a coroutine; the host keeps ownership: the worker never closes it.
     */
    suspend fun cairnJournal(): Journal?

    /**
     * A base URL to use instead of the one in the enrollment code (an
     * emulator reaching a development server on its host); null: the code's.
     */
    fun clinicServerOverride(): String? = null

    /**
     * The notification shown while an expedited sync ([ClinicSyncScheduler.syncSoon])
     * runs as a foreground service, on Android 11 and older only. Generic:
     * it is visible on the lock screen. Override to translate.
     */
    fun clinicSyncNotificationTitle(): CharSequence = ClinicSyncWorker.NOTIFICATION_TITLE
}

/**
 * Runs [ClinicSyncRunner.syncNow] for the journal of the app's
 * [ClinicSyncHost], and tells WorkManager how it went:
 *
 * - success: synced (or nothing to sync: no journal yet);
 * - `Result.retry()` (backoff, see [ClinicSyncScheduler]): no network, an
 *   HTTP error, the server busy, a reply that failed its checks; what was not
 *   acknowledged is sent again next time;
 * - `Result.failure()`: the device was revoked, the patient withdrew or never
 *   enrolled, the clinic speaks another protocol version, the journal's key
 *   is gone. Revoked and not enrolled also cancel the periodic sync (schedule
 *   it again after a new enrollment).
 *
 * A backlog larger than one [ClinicSyncRunner.syncNow] takes (`more`) is
 * synced on in the same run.
 *
 * Schedule it with [ClinicSyncScheduler]. Logs counts and error kinds only,
 * never content.
 */
class ClinicSyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val host = applicationContext as? ClinicSyncHost
        if (host == null) {
            Log.w(TAG, "the Application does not implement ClinicSyncHost; nothing to sync")
            return Result.failure()
        }
        return try {
            val journal = host.cairnJournal() ?: return Result.success()
            // The rules that depend on time passing (no check-ins, a sharp
            // fall) run here, so that silence is noticed even when the app
            // is not opened, and what they raise goes with this sync.
            journal.checkFlags()
            journal.sync().use { sync ->
                do {
                    // A large backlog stops at maxRounds with `more`: go on
                    // (WorkManager stops a worker after 10 minutes; what is
                    // left waits for the next run).
                    val summary = ClinicSyncRunner.syncNow(sync, host.clinicServerOverride())
                    Log.i(
                        TAG,
                        "synced: ${summary.rounds} round(s), ${summary.sent} sent, ${summary.pulled} received, " +
                            "${summary.rejected} refused, ${summary.conflicts} conflict(s)",
                    )
                } while (summary.more && !isStopped)
            }
            Result.success()
        } catch (e: kotlinx.coroutines.CancellationException) {
            // WorkManager stopped the work (constraints lost, quota): nothing
            // is lost, it runs again.
            throw e
        } catch (e: Exception) {
            // The message is a plain sentence without content (CairnException)
            // or an HTTP status (ClinicUnreachableException).
            when (ClinicSyncRunner.failureAction(e)) {
                SyncFailureAction.RETRY -> {
                    val after = ClinicSyncRunner.retryAfterSeconds(e)
                    Log.w(TAG, "sync failed, will retry${after?.let { " (the server asks for $it s)" } ?: ""}: ${e.message}")
                    Result.retry()
                }
                SyncFailureAction.STOP -> {
                    Log.w(TAG, "sync stopped: ${e.javaClass.simpleName}: ${e.message}")
                    if (e is CairnException.DeviceRevoked || e is CairnException.NotEnrolled) {
                        WorkManager.getInstance(applicationContext).cancelUniqueWork(ClinicSyncScheduler.PERIODIC_WORK)
                    }
                    Result.failure()
                }
            }
        }
    }

    /**
     * Android 11 and older run expedited work as a foreground service, which
     * needs a notification: a generic one, on its own low-importance channel.
     */
    override suspend fun getForegroundInfo(): ForegroundInfo {
        val host = applicationContext as? ClinicSyncHost
        val manager = NotificationManagerCompat.from(applicationContext)
        manager.createNotificationChannel(
            NotificationChannelCompat.Builder(CHANNEL_ID, NotificationManagerCompat.IMPORTANCE_LOW)
                .setName(CHANNEL_NAME)
                .build(),
        )
        val notification = NotificationCompat.Builder(applicationContext, CHANNEL_ID)
            .setSmallIcon(applicationContext.applicationInfo.icon)
            .setContentTitle(host?.clinicSyncNotificationTitle() ?: NOTIFICATION_TITLE)
            .setOngoing(true)
            .setSilent(true)
            .build()
        return ForegroundInfo(NOTIFICATION_ID, notification)
    }

    companion object {
        private const val TAG = "CairnClinicSync"

        /** The channel of the foreground notification (Android 11 and older, expedited sync only). */
        const val CHANNEL_ID = "app.cairn.clinic-sync"

        /** The channel's default name. */
        const val CHANNEL_NAME = "Sync with your clinic"

        /** The foreground notification's default title: generic. */
        const val NOTIFICATION_TITLE = "Syncing"

        /** The foreground notification's id. */
        const val NOTIFICATION_ID = 0x43534e43
    }
}

/**
 * When [ClinicSyncWorker] runs. WorkManager keeps the schedule across
 * reboots and app updates; call [schedulePeriodic] at app start once the
 * journal is enrolled (it keeps an existing schedule), [syncSoon] after the
 * patient logs or edits something, [cancel] at sign-out or after withdrawing.
 */
object ClinicSyncScheduler {
    /** WorkManager's unique name of the periodic sync. */
    const val PERIODIC_WORK = "app.cairn.clinic-sync.periodic"

    /** WorkManager's unique name of the one-time sync. */
    const val SOON_WORK = "app.cairn.clinic-sync.soon"

    /** The first retry's delay; it doubles up to WorkManager's cap (5 hours). */
    const val BACKOFF_SECONDS = 60L

    private fun connected(): Constraints =
        Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

    /**
     * Syncs every 15 minutes (WorkManager's shortest period; Android may
     * defer it in Doze and by app standby bucket) while the network is
     * connected, retrying failures with exponential backoff. Keeps an
     * existing schedule.
     */
    fun schedulePeriodic(context: Context) {
        val request = PeriodicWorkRequestBuilder<ClinicSyncWorker>(15, TimeUnit.MINUTES)
            .setConstraints(connected())
            .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, BACKOFF_SECONDS, TimeUnit.SECONDS)
            .build()
        WorkManager.getInstance(context)
            .enqueueUniquePeriodicWork(PERIODIC_WORK, ExistingPeriodicWorkPolicy.KEEP, request)
    }

    /**
     * Syncs as soon as the network allows: expedited (runs at once when the
     * app's expedited quota allows, as ordinary work otherwise). A request
     * made while one is waiting is dropped (that one will send everything);
     * one made while a sync runs is too: the running loop goes on while
     * anything is queued.
     */
    fun syncSoon(context: Context) {
        val request = OneTimeWorkRequestBuilder<ClinicSyncWorker>()
            .setConstraints(connected())
            .setExpedited(OutOfQuotaPolicy.RUN_AS_NON_EXPEDITED_WORK_REQUEST)
            .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, BACKOFF_SECONDS, TimeUnit.SECONDS)
            .build()
        WorkManager.getInstance(context).enqueueUniqueWork(SOON_WORK, ExistingWorkPolicy.KEEP, request)
    }

    /** Cancels the periodic and the one-time sync. */
    fun cancel(context: Context) {
        val manager = WorkManager.getInstance(context)
        manager.cancelUniqueWork(PERIODIC_WORK)
        manager.cancelUniqueWork(SOON_WORK)
    }
}
