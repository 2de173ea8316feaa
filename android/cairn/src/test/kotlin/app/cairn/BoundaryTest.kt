package app.cairn

import org.junit.After
import org.junit.Before
import org.junit.Test
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** What crosses the FFI boundary badly: wrong keys, bad strings, huge input, closed objects. */
class BoundaryTest {
    private lateinit var tmp: TempFolder
    private lateinit var key: ByteArray
    private lateinit var path: String
    private lateinit var journal: Journal

    @Before
    fun setUp() {
        tmp = TempFolder()
        key = generateKey()
        path = tmp.path()
        journal = Journal.create(path, key)
    }

    @After
    fun tearDown() {
        journal.closeJournal()
        journal.close()
        tmp.delete()
    }

    @Test
    fun keysOfTheWrongSizeAreInvalidInput() {
        for (size in listOf(0, 1, 16, 31, 33, 64)) {
            val bad = ByteArray(size) { 7 }
            val fresh = tmp.path("fresh-$size.cairn")
            assertFailsWith<CairnException.InvalidInput>("create $size") { Journal.create(fresh, bad) }
            assertFailsWith<CairnException.InvalidInput>("openOrCreate $size") { Journal.openOrCreate(fresh, bad) }
            assertFalse(File(fresh).exists(), "no file is left behind for a refused key")
            assertFailsWith<CairnException.InvalidInput>("open $size") { Journal.open(path, bad) }
            assertFailsWith<CairnException.InvalidInput>("rekey $size") { journal.rekey(bad) }
        }
        // The store still opens with its key after all that.
        journal.closeJournal()
        journal = Journal.open(path, key)
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun wrongKeyIsRejected() {
        val e = journal.log(mood(6.0, note = "private"))
        journal.closeJournal()
        val sizeBefore = File(path).length()
        val wrong = generateKey()
        assertFailsWith<CairnException.WrongKey> { Journal.open(path, wrong) }
        assertFailsWith<CairnException.WrongKey> { Journal.openOrCreate(path, wrong) }
        assertFailsWith<CairnException.WrongKey> { Journal.open(path, key.copyOf().also { it[31] = (it[31] + 1).toByte() }) }
        assertEquals(sizeBefore, File(path).length())
        journal = Journal.open(path, key)
        assertEquals(e, journal.entry(e.id))
    }

    @Test
    fun invalidEnumLikeStringsAreInvalidInput() {
        val scale = builtinTrackers().first { it.id == "mood" }.kind
        val refused: List<Pair<String, () -> Any?>> = listOf(
            "blank tag" to { parseTag("  ") },
            "word for a scale" to { parseValue(scale, "seven") },
            "unknown tracker" to { journal.log(NewEntry("no-such-tracker", Value.Scale(5.0), nowMs(), "UTC")) },
            "unknown tracker lookup" to { journal.tracker("no-such-tracker") },
            "unknown zone" to { journal.log(mood(5.0, zone = "Mars/Base")) },
            "unknown zone offset" to { ZoneDatabase.system().utcOffsetSeconds("Mars/Base", nowMs()) },
            "bad fromDay" to { journal.entries(EntryQuery(fromDay = "2026-13-45")) },
            "bad toDay" to { journal.entries(EntryQuery(toDay = "2026-13-45")) },
            "bad summary day" to { journal.summary(EntryQuery(fromDay = "yesterday")) },
            "bad low-day day" to { journal.tagsOnLowDays(EntryQuery(toDay = "2026-02-30"), "mood", 3.0) },
            "blank tag label" to { journal.log(mood(5.0, tags = listOf(Tag(TagGroup.OTHER, " ")))) },
        )
        for ((what, call) in refused) {
            val e = assertFailsWith<CairnException.InvalidInput>(what) { call() }
            assertTrue(e.message!!.isNotBlank(), what)
        }
    }

    @Test
    fun timesOutOfRangeAreInvalidInput() {
        for (at in listOf(nowMs() + 2 * DAY_MS, -1L, Long.MAX_VALUE, Long.MIN_VALUE)) {
            assertFailsWith<CairnException.InvalidInput>("at $at") { journal.log(mood(5.0, atMs = at)) }
        }
        assertFailsWith<CairnException.InvalidInput> { journal.entries(EntryQuery(fromMs = Long.MAX_VALUE)) }
        // Up to a day ahead is allowed (a phone's clock may be behind the patient's).
        journal.log(mood(5.0, atMs = nowMs() + 23 * HOUR_MS))
    }

    @Test
    fun hugeStringsAreInvalidInputWithoutCrashing() {
        val twoMb = "a".repeat(2 * 1024 * 1024)
        val tenMb = "t".repeat(10 * 1024 * 1024)
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, note = twoMb)) }
        assertFailsWith<CairnException.InvalidInput> {
            journal.log(NewEntry("journal", Value.Text(twoMb), nowMs(), "UTC"))
        }
        assertFailsWith<CairnException.InvalidInput> { journal.addTracker(NewTracker(tenMb, TrackerKind.Count)) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(NewEntry(tenMb, Value.Count(1u), nowMs(), "UTC")) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, zone = tenMb)) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, tags = listOf(Tag(TagGroup.TRIGGER, tenMb)))) }
        assertFailsWith<CairnException.InvalidInput> { parseTag(tenMb) }
        assertFailsWith<CairnException.InvalidInput> { journal.tracker(tenMb) }
        assertFailsWith<CairnException.InvalidInput> {
            journal.log(NewEntry("medication", Value.Medication(tenMb, true), nowMs(), "UTC"))
        }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, tags = List(100) { Tag(TagGroup.OTHER, "tag $it") })) }
        assertFailsWith<CairnException.InvalidInput> { journal.entry(tenMb) }
        assertFailsWith<CairnException.InvalidInput> { journal.updateEntry(tenMb, mood(5.0)) }
        // The largest accepted note is 64 KiB; the journal still works.
        val biggest = "é".repeat(32 * 1024)
        assertEquals(biggest, journal.log(mood(5.0, note = biggest)).note)
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, note = biggest + "x")) }
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun callsAfterCloseRaiseClosed() {
        val e = journal.log(mood(5.0))
        journal.closeJournal()
        journal.closeJournal() // closing twice is fine
        val calls: List<Pair<String, () -> Any?>> = listOf(
            "log" to { journal.log(mood(5.0)) },
            "updateEntry" to { journal.updateEntry(e.id, mood(6.0)) },
            "deleteEntry" to { journal.deleteEntry(e.id) },
            "entry" to { journal.entry(e.id) },
            "entries" to { journal.entries(EntryQuery()) },
            "summary" to { journal.summary(EntryQuery()) },
            "tagsOnLowDays" to { journal.tagsOnLowDays(EntryQuery(), "mood", 3.0) },
            "trackers" to { journal.trackers() },
            "tracker" to { journal.tracker("mood") },
            "addTracker" to { journal.addTracker(NewTracker("Urges", TrackerKind.YesNo)) },
            "deleteTracker" to { journal.deleteTracker("0".repeat(32)) },
            "rekey" to { journal.rekey(generateKey()) },
            "pendingChanges" to { journal.pendingChanges() },
            "integrityCheck" to { journal.integrityCheck() },
        )
        for ((name, call) in calls) {
            assertFailsWith<CairnException.Closed>(name) { call() }
        }
        // Closed released the file: it opens again, unchanged.
        journal = Journal.open(path, key)
        assertEquals(e, journal.entry(e.id))
    }

    @Test
    fun errorMessagesDoNotRepeatPatientText() {
        val secret = "Sam hurt me again and I want it to stop"
        val longSecret = secret + " " + "x".repeat(70 * 1024)
        val refused: List<Pair<String, () -> Any?>> = listOf(
            "note too long" to { journal.log(mood(5.0, note = longSecret)) },
            "NUL in note" to { journal.log(mood(5.0, note = "$secret\u0000")) },
            "value out of range" to { journal.log(mood(42.0, note = secret)) },
            "unknown zone" to { journal.log(mood(5.0, zone = "Mars/Base", note = secret)) },
            "future time" to { journal.log(mood(5.0, atMs = nowMs() + 3 * DAY_MS, note = secret)) },
            "unknown tracker named with text" to { journal.log(NewEntry(secret, Value.Scale(1.0), nowMs(), "UTC", note = secret)) },
            "zone named with text" to { journal.log(mood(5.0, zone = secret, note = secret)) },
            "tag too long" to { journal.log(mood(5.0, tags = listOf(trigger("$secret $secret")))) },
            "tracker name too long" to { journal.addTracker(NewTracker("$secret $secret", TrackerKind.Text)) },
            "text value too long" to { journal.log(NewEntry("journal", Value.Text(longSecret), nowMs(), "UTC")) },
            "medication name too long" to { journal.log(NewEntry("medication", Value.Medication("$secret $secret", true), nowMs(), "UTC")) },
            "parse a scale" to { parseValue(TrackerKind.Scale(0.0, 10.0, 1.0, "", ""), secret) },
            "parse a tag" to { parseTag("trigger:$secret $secret") },
            "update of a missing entry" to { journal.updateEntry("0".repeat(32), mood(5.0, note = secret)) },
        )
        journal.addTracker(NewTracker(secret.take(60), TrackerKind.Text))
        val duplicate = "duplicate tracker" to { journal.addTracker(NewTracker(secret.take(60).uppercase(), TrackerKind.Text)) }
        for ((what, call) in refused + duplicate) {
            val e = assertFailsWith<CairnException>(what) { call() }
            val shown = listOf(e.message.orEmpty(), e.toString(), e.localizedMessage.orEmpty())
            for (text in shown) {
                assertFalse(text.contains("Sam hurt"), "$what: $text")
                assertFalse(text.contains("want it to stop"), "$what: $text")
            }
        }
    }
}
