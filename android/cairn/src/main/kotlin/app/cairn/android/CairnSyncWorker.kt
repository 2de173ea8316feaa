package app.cairn.android

import android.content.Context
import android.util.Log
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.NetworkType
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.util.concurrent.TimeUnit

/**
 * The WorkManager side of background sync: runs the app's [SyncRunner] (found
 * through its `Application` implementing [SyncRunnerProvider]) when the
 * network is up, and maps its [SyncOutcome] to WorkManager's results.
 *
 * Skeleton from before sync existed, kept for apps that implemented
 * [SyncRunner]: use `app.cairn.ClinicSyncWorker` (its `ClinicSyncScheduler`)
 * instead, which runs the real sync with the clinic.
 */
@Deprecated("Sync with the clinic is app.cairn.ClinicSyncWorker, scheduled by app.cairn.ClinicSyncScheduler")
class CairnSyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val provider = applicationContext as? SyncRunnerProvider
        if (provider == null) {
            Log.w(TAG, "the Application does not implement SyncRunnerProvider; nothing to run")
            return Result.failure()
        }
        // Journal calls block on disk I/O.
        val outcome = withContext(Dispatchers.IO) { provider.syncRunner().runOnce() }
        return when (outcome) {
            SyncOutcome.DONE -> Result.success()
            SyncOutcome.RETRY -> Result.retry()
            SyncOutcome.FAILED -> Result.failure()
        }
    }

    companion object {
        private const val TAG = "CairnSync"

        /** WorkManager's unique name for the periodic sync. */
        const val UNIQUE_NAME = "app.cairn.sync"

        /** Schedules a sync every [hours] hours while connected; keeps an existing schedule. */
        fun schedulePeriodic(context: Context, hours: Long = 6) {
            val request = PeriodicWorkRequestBuilder<CairnSyncWorker>(hours, TimeUnit.HOURS)
                .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                .build()
            WorkManager.getInstance(context)
                .enqueueUniquePeriodicWork(UNIQUE_NAME, ExistingPeriodicWorkPolicy.KEEP, request)
        }

        /** Cancels the periodic sync. */
        fun cancel(context: Context) {
            WorkManager.getInstance(context).cancelUniqueWork(UNIQUE_NAME)
        }
    }
}
