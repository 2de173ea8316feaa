package app.cairn.android

/**
 * Extension point: one round of background sync with the clinic.
 *
 * Placeholder for the sync issue. The core will produce payload bytes and take
 * reply bytes (the app's own network stack carries them); until the FFI
 * exports that, an app implements this with nothing to send. [CairnSyncWorker]
 * runs it from WorkManager.
 */
fun interface SyncRunner {
    /** Runs one round; called from a background worker, off the main thread. */
    suspend fun runOnce(): SyncOutcome
}

/** How a sync round ended, as WorkManager needs to know it. */
enum class SyncOutcome {
    /** Nothing left to do until the next scheduled run. */
    DONE,

    /** A transient failure (no network, server busy): retry with backoff. */
    RETRY,

    /** A failure retrying will not fix (rejected credentials, bad payload). */
    FAILED,
}

/** Implemented by the app's `Application` so that [CairnSyncWorker] finds its [SyncRunner]. */
interface SyncRunnerProvider {
    /** The runner for this process. */
    fun syncRunner(): SyncRunner
}
