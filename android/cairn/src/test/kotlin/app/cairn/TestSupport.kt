package app.cairn

import java.nio.file.Files
import java.nio.file.Path
import java.time.LocalDate
import java.time.ZoneOffset

const val MINUTE_MS = 60_000L
const val HOUR_MS = 60 * MINUTE_MS
const val DAY_MS = 24 * HOUR_MS

fun nowMs(): Long = System.currentTimeMillis()

/** Noon UTC, `daysAgo` days before today: at most 12 hours ahead of now. */
fun noonUtc(daysAgo: Long): Long =
    LocalDate.now(ZoneOffset.UTC).minusDays(daysAgo).atTime(12, 0).toInstant(ZoneOffset.UTC).toEpochMilli()

fun mood(
    value: Double,
    atMs: Long = nowMs(),
    zone: String = "Europe/Paris",
    note: String? = null,
    tags: List<Tag> = listOf(),
) = NewEntry(tracker = "mood", value = Value.Scale(value), atMs = atMs, zone = zone, note = note, tags = tags)

fun trigger(label: String) = Tag(TagGroup.TRIGGER, label)
fun activity(label: String) = Tag(TagGroup.ACTIVITY, label)

/** A temporary folder for one test's SQLite files, deleted by [delete]. */
class TempFolder {
    val dir: Path = Files.createTempDirectory("cairn-kotlin-test")

    /** A path in the folder where no file exists yet. */
    fun path(name: String = "journal.cairn"): String = dir.resolve(name).toString()

    fun delete() {
        dir.toFile().deleteRecursively()
    }
}

/** Every entry the query selects, following `next` cursors. */
fun Journal.allEntries(query: EntryQuery = EntryQuery()): List<Entry> {
    val out = mutableListOf<Entry>()
    var q = query
    while (true) {
        val page = entries(q)
        out += page.entries
        val next = page.next ?: return out
        q = q.copy(after = next)
    }
}
