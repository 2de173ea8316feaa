// Journal changes and query results as Kotlin Flows, over the core's
// listener (Journal.observe). Hand-written beside the generated bindings.
package app.cairn

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.flow.map

/**
 * Every change committed through this journal, in commit order, from the
 * moment the flow is collected until its collector is cancelled. Ids only,
 * never content. Closing the journal ends the changes but not the flow:
 * cancel the collector (its scope) when the journal closes.
 *
 * @throws CairnException.Closed on collection if the journal is closed.
 */
fun Journal.changes(): Flow<JournalChange> = callbackFlow {
    val subscription = observe(
        object : JournalListener {
            override fun onChange(change: JournalChange) {
                trySend(change)
            }
        },
    )
    awaitClose { subscription.stop() }
}.buffer(Channel.UNLIMITED)

/**
 * The page `query` selects, now and again after each commit that touches
 * entries or trackers: the flow for a screen that lists entries. Slow
 * collectors see the latest page, not every one in between. The first page
 * is read once the journal already reports changes to this flow, so no
 * commit can fall between the two unseen.
 *
 * @throws CairnException from `entries` (`Closed`...), ending the flow.
 */
fun Journal.entriesFlow(query: EntryQuery = EntryQuery()): Flow<EntryPage> =
    callbackFlow {
        val subscription = observe(
            object : JournalListener {
                override fun onChange(change: JournalChange) {
                    if (change.table in ENTRY_TABLES) trySend(Unit)
                }
            },
        )
        send(Unit) // the first page
        awaitClose { subscription.stop() }
    }
        .conflate()
        .map { entries(query) }

private val ENTRY_TABLES = setOf(ChangeTable.ENTRIES, ChangeTable.TRACKERS, ChangeTable.ALL)

/** Unregisters the listener and frees the subscription's handle. */
private fun Subscription.stop() {
    cancel()
    close()
}
