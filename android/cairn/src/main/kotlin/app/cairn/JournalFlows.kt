// Journal changes and query results as Kotlin Flows, over the core's
// listener (Journal.observe). Hand-written beside the generated bindings.
package app.cairn

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.flow.transformWhile

/**
 * Every change committed through this journal, in commit order, from the
 * moment the flow is collected until its collector is cancelled. Ids only,
 * never content. When the journal closes, the flow delivers every change
 * committed before the close, then completes.
 *
 * @throws CairnException.Closed on collection if the journal is closed.
 */
fun Journal.changes(): Flow<JournalChange> = callbackFlow {
    val subscription = observe(
        object : JournalListener {
            override fun onChange(change: JournalChange) {
                trySend(change)
            }

            override fun onClosed() {
                channel.close()
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
 * commit can fall between the two unseen. Completes when the journal closes.
 *
 * @throws CairnException from `entries` (an invalid query...), ending the flow.
 */
fun Journal.entriesFlow(query: EntryQuery = EntryQuery()): Flow<EntryPage> =
    callbackFlow {
        val subscription = observe(
            object : JournalListener {
                override fun onChange(change: JournalChange) {
                    if (change.table in ENTRY_TABLES) trySend(Unit)
                }

                override fun onClosed() {
                    channel.close()
                }
            },
        )
        send(Unit) // the first page
        awaitClose { subscription.stop() }
    }
        .conflate()
        .transformWhile {
            // A change that raced the close finds the journal closed: the
            // flow completes, as it does on the close itself.
            val page = try {
                entries(query)
            } catch (e: CairnException.Closed) {
                null
            }
            if (page != null) emit(page)
            page != null
        }

private val ENTRY_TABLES = setOf(ChangeTable.ENTRIES, ChangeTable.TRACKERS, ChangeTable.ALL)

/** Unregisters the listener and frees the subscription's handle. */
private fun Subscription.stop() {
    cancel()
    close()
}
