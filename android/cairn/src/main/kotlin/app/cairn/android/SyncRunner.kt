package app.cairn.android

/**
 * Extension point: one round of background sync with the clinic.
 *
 * Placeholder from before sync existed. Sync with the clinic is
 * `app.cairn.ClinicSyncRunner` (the loop) and `app.cairn.ClinicSyncWorker`
 * (WorkManager); [CairnSyncWorker] runs this one.
 */
@Deprecated("Use app.cairn.ClinicSyncRunner and app.cairn.ClinicSyncWorker")
fun interface SyncRunner {
    /** Runs one round; called from a background worker, off the main thread. */
    suspend fun runOnce(): SyncOutcome
}

/** How a sync round ended, as WorkManager needs to know it. */
@Deprecated("Use app.cairn.ClinicSyncRunner (app.cairn.SyncOutcome is what one exchange did)")
enum class SyncOutcome {
    /** Nothing left to do until the next scheduled run. */
    DONE,

    /** A transient failure (no network, server busy): retry with backoff. */
    RETRY,

    /** A failure retrying will not fix (rejected credentials, bad payload). */
    FAILED,
}

/** Implemented by the app's `Application` so that [CairnSyncWorker] finds its [SyncRunner]. */
@Deprecated("Implement app.cairn.ClinicSyncHost for app.cairn.ClinicSyncWorker")
interface SyncRunnerProvider {
    /** The runner for this process. */
    fun syncRunner(): SyncRunner
}
