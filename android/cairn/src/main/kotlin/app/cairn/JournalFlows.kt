// Journal changes and query results as Kotlin Flows, over the core's
// listener (Journal.observe). Hand-written beside the generated bindings.
package app.cairn

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.flow.filter
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.onStart

/**
 * Every change committed through this journal, in commit order, from the
 * moment the flow is collected until its collector is cancelled (or the
 * journal closes: the flow then completes). Ids only, never content.
 */
fun Journal.changes(): Flow<JournalChange> = callbackFlow {
    val subscription = observe(object : JournalListener {
        override fun onChange(change: JournalChange) {
            trySend(change)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(Channel.UNLIMITED)

/**
 * The page `query` selects, now and again after each commit that touches
 * entries or trackers: the flow for a screen that lists entries. Slow
 * collectors see the latest page, not every one in between.
 */
fun Journal.entriesFlow(query: EntryQuery = EntryQuery()): Flow<EntryPage> =
    changes()
        .filter { it.table == ChangeTable.ENTRIES || it.table == ChangeTable.TRACKERS || it.table == ChangeTable.ALL }
        .map { }
        .onStart { emit(Unit) }
        .conflate()
        .let { triggers -> flow { triggers.collect { emit(entries(query)) } } }
