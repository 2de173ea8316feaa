// The sync loop with the clinic's server: the core makes and reads every
// byte (ClinicSync.prepare / receive), this file carries them over HTTP with
// java.net.HttpURLConnection. Plain Kotlin/JVM: ClinicSyncWorker runs it on
// Android, tests/kotlin.sh runs it on the desktop against cairn-clinic.
package app.cairn

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.runInterruptible
import java.io.ByteArrayOutputStream
import java.io.IOException
import java.io.InputStream
import java.net.HttpURLConnection
import java.net.URI
import java.net.URL

/**
 * What one [ClinicSyncRunner.syncNow] (or [ClinicSyncRunner.enroll]) did,
 * summed over its rounds. Counts and codes only, never content: safe to log.
 */
data class SyncSummary(
    /** HTTP exchanges made (each one request and its reply). */
    val rounds: Int,
    /** Changes sent. */
    val sent: Int,
    /** Changes received from the clinic and the patient's other devices. */
    val pulled: Int,
    /** Changes the clinic refused (listed in `sync.log(...)`). */
    val rejected: Int,
    /** Conflict versions created (see `sync.conflicts()`). */
    val conflicts: Int,
    /** The last sequence number the clinic has applied from this device. */
    val acknowledged: Long,
    /**
     * The clinic's refusals that the runner answered by sending again at
     * once (`gap`, `sequence_reused`, `unknown_key`, `replayed`, `stale`,
     * and `stale_reply`), in order.
     */
    val refusalsRetried: List<String>,
    /**
     * True when the loop stopped at `maxRounds` while the core still had
     * more to send or receive: call [ClinicSyncRunner.syncNow] again.
     */
    val more: Boolean,
)

/**
 * The clinic could not be reached, or answered with an HTTP status other
 * than 200 (a proxy, a load balancer, the server's own 408, 413, 500, or
 * 503 when its database stayed locked). Nothing was applied on the device;
 * the next sync sends again what the clinic has not acknowledged. Retry
 * later ([retryAfterSeconds] when the server said when).
 */
class ClinicUnreachableException(
    /** The HTTP status, or null when there was no HTTP answer (no network, a timeout, TLS). */
    val httpStatus: Int?,
    /** The server's `Retry-After`, in seconds, when it sent one. */
    val retryAfterSeconds: Long?,
    message: String,
    cause: Throwable? = null,
) : IOException(message, cause)

/** What a background scheduler should do after a failed sync (see [ClinicSyncRunner.failureAction]). */
enum class SyncFailureAction {
    /** Waiting may fix it (network, a busy or failing server, a garbled reply): retry with backoff. */
    RETRY,

    /** Only a person can fix it (revoked, withdrawn, not enrolled, a new code or an app update needed): stop. */
    STOP,
}

/**
 * The sync loop: `prepare()` → POST → `receive()`, again while the core
 * says `more`. Every call suspends; HTTP runs on `Dispatchers.IO`, and
 * cancelling the caller aborts the request in flight (nothing is lost: a
 * reply never applied is sent for again).
 *
 * ```
 * val sync = journal.sync()
 * ClinicSyncRunner.enroll(sync, code, listOf(SharingCategory.RATINGS, SharingCategory.NOTES))
 * // later, in the background (ClinicSyncWorker does this):
 * val summary = ClinicSyncRunner.syncNow(sync)
 * ```
 *
 * Errors: [ClinicUnreachableException] (no network, an HTTP status other
 * than 200: retry later), `CairnException.ServerBusy` (its
 * `retryAfterSeconds`), `DeviceRevoked` and `NotEnrolled` (stop syncing),
 * the enrollment errors from [enroll], `BadReply`, `ProtocolIncompatible`,
 * and `SyncRefused` when a refusal does not go away by sending again.
 * [failureAction] sorts them for a scheduler.
 */
object ClinicSyncRunner {
    /** Connecting to the server, at most. */
    const val CONNECT_TIMEOUT_MS = 15_000

    /** Waiting for the reply's bytes, at most (the server itself gives up after 30 s). */
    const val READ_TIMEOUT_MS = 60_000

    /** The largest reply read (a real one is at most a few hundred KiB). */
    const val MAX_REPLY_BYTES = 8 * 1024 * 1024

    /** How many refusals in a row the loop answers by sending again before it gives up. */
    const val REFUSAL_RETRIES = 4

    /** Refusals the core has already answered (it adjusted what it sends): send again at once. */
    val RETRIED_REFUSALS: Set<String> = setOf("gap", "sequence_reused", "unknown_key", "replayed", "stale")

    /**
     * Syncs until neither side has more: sends what the patient logged and
     * shares, receives what the patient's other devices sent to the clinic.
     *
     * @param serverOverride a base URL (`https://host[:port][/path]`) to use
     *   instead of the one in the enrollment code: an emulator reaching its
     *   host, a test proxy. Null: the code's.
     * @param maxRounds the most HTTP exchanges; past it the summary says
     *   `more` and the rest waits for the next call.
     * @return the totals; `more` is true only when [maxRounds] stopped it.
     */
    suspend fun syncNow(sync: ClinicSync, serverOverride: String? = null, maxRounds: Int = 200): SyncSummary =
        run(sync, null, serverOverride, maxRounds)

    /**
     * Enrolls this journal with the clinic with the code the patient was
     * given (`CAIRN1…`, checked first with `checkEnrollmentCode`), sharing
     * [sharing], then runs [syncNow] (what was logged before is sent).
     *
     * A failure in transit ([ClinicUnreachableException], `ServerBusy`)
     * leaves the enrollment pending: the next [syncNow] sends it again. The
     * clinic's refusals arrive as `EnrollmentUsed`, `EnrollmentExpired`,
     * `EnrollmentRevoked` (ask the clinic for a new code).
     */
    suspend fun enroll(
        sync: ClinicSync,
        code: String,
        sharing: List<SharingCategory>,
        serverOverride: String? = null,
        maxRounds: Int = 200,
    ): SyncSummary = run(sync, sync.enroll(code, sharing), serverOverride, maxRounds)

    /**
     * Tells the clinic the patient withdraws and applies its answer: this
     * journal stops syncing (`status().enrollment` is `WITHDRAWN`); entries
     * stay on the device. When the clinic cannot be reached, `sync.forget()`
     * stops on this device only.
     */
    suspend fun withdraw(sync: ClinicSync, serverOverride: String? = null): SyncOutcome {
        val request = sync.withdraw()
        val reply = post(request, target(sync, request, serverOverride))
        return sync.receive(request.requestId, reply)
    }

    /**
     * What a scheduler should do after [e] ended a sync: [SyncFailureAction.RETRY]
     * for what time may fix (the network, HTTP errors, a busy server, a reply
     * that failed its checks, a closed journal, storage errors), otherwise
     * [SyncFailureAction.STOP] (revoked, withdrawn or never enrolled, an
     * enrollment code refused, another protocol version, a wrong key or
     * damaged store, a refusal that means a bug on one side).
     */
    fun failureAction(e: Throwable): SyncFailureAction = when (e) {
        is ClinicUnreachableException -> SyncFailureAction.RETRY
        is CairnException.ServerBusy,
        is CairnException.BadReply,
        is CairnException.StaleReply,
        is CairnException.Closed,
        is CairnException.Storage,
        is CairnException.Io,
        -> SyncFailureAction.RETRY
        is CairnException.SyncRefused ->
            if (e.reason in RETRIED_REFUSALS) SyncFailureAction.RETRY else SyncFailureAction.STOP
        is IOException -> SyncFailureAction.RETRY
        else -> SyncFailureAction.STOP
    }

    /** Seconds to wait before the next try, when the failure says (`ServerBusy`, HTTP `Retry-After`). */
    fun retryAfterSeconds(e: Throwable): Long? = when (e) {
        is CairnException.ServerBusy -> e.retryAfterSeconds
        is ClinicUnreachableException -> e.retryAfterSeconds
        else -> null
    }

    private suspend fun run(sync: ClinicSync, first: SyncRequest?, serverOverride: String?, maxRounds: Int): SyncSummary {
        require(maxRounds >= 1) { "maxRounds must be at least 1" }
        var rounds = 0
        var sent = 0
        var pulled = 0
        var rejected = 0
        var conflicts = 0
        var acknowledged = 0L
        val retried = mutableListOf<String>()
        var refusalsInARow = 0
        var more = false
        var request = first ?: sync.prepare()
        while (request != null) {
            if (rounds == maxRounds) {
                more = true
                break
            }
            rounds++
            val reply = post(request, target(sync, request, serverOverride))
            val outcome = try {
                sync.receive(request.requestId, reply)
            } catch (e: CairnException) {
                // The core has already adjusted what it sends (renumbered,
                // taken new keys, corrected its clock): send again at once,
                // a few times. A stale reply (another sync of this journal
                // prepared requests meanwhile) is the same: send again.
                val reason = when {
                    e is CairnException.SyncRefused && e.reason in RETRIED_REFUSALS -> e.reason
                    e is CairnException.StaleReply -> "stale_reply"
                    else -> throw e
                }
                if (refusalsInARow == REFUSAL_RETRIES) throw e
                refusalsInARow++
                retried += reason
                request = sync.prepare()
                continue
            }
            refusalsInARow = 0
            sent += outcome.sent
            pulled += outcome.pulled
            rejected += outcome.rejected
            conflicts += outcome.conflicts
            acknowledged = outcome.acknowledged
            if (!outcome.more) break
            request = sync.prepare()
        }
        return SyncSummary(rounds, sent, pulled, rejected, conflicts, acknowledged, retried.toList(), more)
    }

    /** The request's URL, on [serverOverride] when given (the path after the code's base is kept). */
    private suspend fun target(sync: ClinicSync, request: SyncRequest, serverOverride: String?): String {
        if (serverOverride == null) return request.url
        val base = sync.status().serverUrl.trimEnd('/')
        val rest = if (request.url.startsWith(base)) request.url.substring(base.length) else URI(request.url).rawPath
        return serverOverride.trimEnd('/') + rest
    }

    /**
     * POSTs the request's body to [url] and returns the reply's bytes (HTTP
     * 200 only). Runs on `Dispatchers.IO`; a cancelled caller disconnects.
     */
    private suspend fun post(request: SyncRequest, url: String): ByteArray {
        val connection = try {
            URL(url).openConnection() as? HttpURLConnection
                ?: throw ClinicUnreachableException(null, null, "the clinic's address is not http(s)")
        } catch (e: IOException) {
            if (e is ClinicUnreachableException) throw e
            throw ClinicUnreachableException(null, null, "could not reach the clinic (${e.javaClass.simpleName})", e)
        } catch (e: IllegalArgumentException) {
            throw ClinicUnreachableException(null, null, "the clinic's address is not a URL", e)
        }
        return coroutineScope {
            // HttpURLConnection ignores interrupts: a cancelled caller
            // closes the connection, which ends a blocked read or write.
            val watcher = launch(start = CoroutineStart.UNDISPATCHED) {
                try {
                    awaitCancellation()
                } finally {
                    connection.disconnect()
                }
            }
            try {
                runInterruptible(Dispatchers.IO) { exchange(connection, request) }
            } catch (e: ClinicUnreachableException) {
                // The connection closed because the caller was cancelled:
                // that is a cancellation, not an unreachable clinic.
                ensureActive()
                throw e
            } finally {
                watcher.cancel()
            }
        }
    }

    private fun exchange(connection: HttpURLConnection, request: SyncRequest): ByteArray {
        try {
            connection.requestMethod = "POST"
            connection.connectTimeout = CONNECT_TIMEOUT_MS
            connection.readTimeout = READ_TIMEOUT_MS
            connection.instanceFollowRedirects = false
            connection.useCaches = false
            connection.doOutput = true
            connection.setRequestProperty("Content-Type", request.contentType)
            connection.setRequestProperty("Accept", request.contentType)
            connection.setFixedLengthStreamingMode(request.body.size)
            connection.outputStream.use { it.write(request.body) }
            val status = connection.responseCode
            if (status != HttpURLConnection.HTTP_OK) {
                // The body of anything but 200 is not the protocol's: not read.
                val retryAfter = connection.getHeaderField("Retry-After")?.trim()?.toLongOrNull()?.takeIf { it >= 0 }
                throw ClinicUnreachableException(
                    status,
                    retryAfter,
                    "the clinic's server answered HTTP $status" + (retryAfter?.let { "; retry after $it s" } ?: ""),
                )
            }
            return connection.inputStream.use { readBounded(it) }
        } catch (e: ClinicUnreachableException) {
            throw e
        } catch (e: IOException) {
            throw ClinicUnreachableException(null, null, "could not reach the clinic (${e.javaClass.simpleName})", e)
        } finally {
            connection.disconnect()
        }
    }

    private fun readBounded(input: InputStream): ByteArray {
        val out = ByteArrayOutputStream()
        val buffer = ByteArray(16 * 1024)
        while (true) {
            val n = input.read(buffer)
            if (n < 0) return out.toByteArray()
            if (out.size() + n > MAX_REPLY_BYTES) {
                throw ClinicUnreachableException(200, null, "the reply is larger than $MAX_REPLY_BYTES bytes")
            }
            out.write(buffer, 0, n)
        }
    }
}
