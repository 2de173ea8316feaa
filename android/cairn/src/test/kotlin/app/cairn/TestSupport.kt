package app.cairn

import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Before
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.time.Instant
import java.time.LocalDate
import java.time.ZoneId
import java.time.ZoneOffset
import java.time.temporal.ChronoUnit
import java.time.zone.ZoneRules
import java.time.zone.ZoneRulesProvider
import java.util.NavigableMap
import java.util.TreeMap

val MINUTE: Duration = Duration.ofMinutes(1)
val HOUR: Duration = Duration.ofHours(1)
val DAY: Duration = Duration.ofDays(1)

operator fun Int.times(d: Duration): Duration = d.multipliedBy(toLong())
operator fun Long.times(d: Duration): Duration = d.multipliedBy(this)

val UTC: ZoneId = ZoneId.of("UTC")
val PARIS: ZoneId = ZoneId.of("Europe/Paris")

/** Now, in whole milliseconds (what the journal keeps), so a value read back equals it. */
fun now(): Instant = Instant.now().truncatedTo(ChronoUnit.MILLIS)

/** Noon UTC, `daysAgo` days before today: at most 12 hours ahead of now. */
fun noonUtc(daysAgo: Long): Instant =
    LocalDate.now(ZoneOffset.UTC).minusDays(daysAgo).atTime(12, 0).toInstant(ZoneOffset.UTC)

fun mood(
    value: Double,
    at: Instant = now(),
    zone: ZoneId = PARIS,
    note: String? = null,
    tags: List<Tag> = listOf(),
) = NewEntry(tracker = "mood", value = Value.Scale(value), at = at, zone = zone, note = note, tags = tags)

fun trigger(label: String) = Tag(TagGroup.TRIGGER, label)
fun activity(label: String) = Tag(TagGroup.ACTIVITY, label)

/** A call to check, with what to call it in a failure message. */
data class Call(val what: String, val call: suspend () -> Any?)

fun call(what: String, call: suspend () -> Any?) = Call(what, call)

/** A temporary folder for one test's SQLite files, deleted by [delete]. */
class TempFolder {
    val dir: Path = Files.createTempDirectory("cairn-kotlin-test")

    /** A path in the folder where no file exists yet. */
    fun path(name: String = "journal.cairn"): String = dir.resolve(name).toString()

    fun delete() {
        dir.toFile().deleteRecursively()
    }
}

/**
 * A fresh journal in a temporary folder for each test, closed and deleted
 * after it. Tests may re-open `journal` at `path` with `key`.
 */
abstract class JournalFixture {
    protected lateinit var tmp: TempFolder
    protected lateinit var key: ByteArray
    protected lateinit var path: String
    protected lateinit var journal: Journal

    @Before
    fun createJournal() = runBlocking<Unit> {
        tmp = TempFolder()
        key = generateKey()
        path = tmp.path()
        journal = Journal.create(path, key)
    }

    @After
    fun closeAndDeleteJournal() = runBlocking<Unit> {
        journal.closeJournal()
        journal.close()
        tmp.delete()
    }
}

/** Every entry the query selects, following `next` cursors. */
suspend fun Journal.allEntries(query: EntryQuery = EntryQuery()): List<Entry> {
    val out = mutableListOf<Entry>()
    var q = query
    while (true) {
        val page = entries(q)
        out += page.entries
        val next = page.next ?: return out
        q = q.copy(after = next)
    }
}

/**
 * Zone ids that java.time accepts (registered here with a fixed UTC offset)
 * but no real tz database has: how a test hands Cairn a `ZoneId` it does not
 * know. `ZoneId.of("Mars/Base")` alone would fail in java.time, before Cairn.
 */
object FakeZones {
    const val MARS = "Mars/Base"

    /** A zone id carrying a patient's words, to check errors never repeat it. */
    const val SECRET = "Sam_hurt_me_again/I_want_it_to_stop"

    /** A name that climbs out of a zoneinfo folder. */
    const val TRAVERSAL = "Europe/../../etc/passwd"

    /** A folder of the zoneinfo tree, not a zone. */
    const val FOLDER = "Europe"

    /** 10 MB of name. */
    val HUGE = "X" + "x".repeat(10 * 1024 * 1024)

    private val registered: Unit by lazy {
        ZoneRulesProvider.registerProvider(Provider(setOf(MARS, SECRET, TRAVERSAL, FOLDER, HUGE)))
    }

    fun of(name: String): ZoneId {
        registered
        return ZoneId.of(name)
    }

    private class Provider(private val ids: Set<String>) : ZoneRulesProvider() {
        override fun provideZoneIds(): Set<String> = ids
        override fun provideRules(zoneId: String, forCaching: Boolean): ZoneRules = ZoneOffset.UTC.rules
        override fun provideVersions(zoneId: String): NavigableMap<String, ZoneRules> =
            TreeMap(mapOf("test" to ZoneOffset.UTC.rules))
    }
}

val MARS: ZoneId get() = FakeZones.of(FakeZones.MARS)
