package app.cairn

import kotlinx.coroutines.runBlocking
import org.junit.Test
import java.io.File
import java.time.Instant
import java.time.LocalDate
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** What crosses the FFI boundary badly: wrong keys, bad strings, huge input, closed objects. */
class BoundaryTest : JournalFixture() {
    @Test
    fun keysOfTheWrongSizeAreKeyLength() = runBlocking<Unit> {
        for (size in listOf(0, 1, 16, 31, 33, 64)) {
            val bad = ByteArray(size) { 7 }
            val fresh = tmp.path("fresh-$size.cairn")
            val calls = listOf(
                call("create $size") { Journal.create(fresh, bad) },
                call("openOrCreate $size") { Journal.openOrCreate(fresh, bad) },
                call("open $size") { Journal.open(path, bad) },
                call("rekey $size") { journal.rekey(bad) },
            )
            for ((what, call) in calls) {
                val e = assertFailsWith<CairnException.KeyLength>(what) { call() }
                assertEquals(size.toLong(), e.got, what)
            }
            assertFalse(File(fresh).exists(), "no file is left behind for a refused key")
        }
        // The store still opens with its key after all that.
        journal.closeJournal()
        journal = Journal.open(path, key)
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun wrongKeyIsRejected() = runBlocking<Unit> {
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
    fun badStringsAndNamesAreTypedErrors() = runBlocking<Unit> {
        // What the types cannot rule out: free text, names, and days
        // java.time holds but the journal does not. (A day like 2026-13-45
        // or 2026-02-30 can no longer be written at all: LocalDate.)
        val scale = builtinTrackers().first { it.id == TrackerId("mood") }.kind
        val invalid = listOf(
            call("blank tag") { parseTag("  ") },
            call("word for a scale") { parseValue(scale, "seven") },
            call("toDay at LocalDate.MAX") { journal.entries(EntryQuery(toDay = LocalDate.MAX)) },
            call("summary day at LocalDate.MIN") { journal.summary(EntryQuery(fromDay = LocalDate.MIN)) },
            call("low-day day far ahead") { journal.tagsOnLowDays(EntryQuery(toDay = LocalDate.MAX), "mood", 3.0) },
            call("blank tag label") { journal.log(mood(5.0, tags = listOf(Tag(TagGroup.OTHER, " ")))) },
        )
        for ((what, call) in invalid) {
            val e = assertFailsWith<CairnException.InvalidInput>(what) { call() }
            assertTrue(e.message.isNotBlank(), what)
        }
        assertFailsWith<CairnException.UnknownTracker> { journal.log(NewEntry("no-such-tracker", Value.Scale(5.0), now(), UTC)) }
        assertFailsWith<CairnException.UnknownTracker> { journal.tracker("no-such-tracker") }
        assertEquals("zone", assertFailsWith<CairnException.UnknownZone> { journal.log(mood(5.0, zone = MARS)) }.field)
        assertEquals("zone", assertFailsWith<CairnException.UnknownZone> { ZoneDatabase.system().utcOffsetSeconds(MARS, now()) }.field)
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun timesOutOfRangeAreInvalidInput() = runBlocking<Unit> {
        // (The last second before 1970 is TypedValuesTest's.)
        val outside = listOf(now() + 2 * DAY, Instant.EPOCH.minusSeconds(1), Instant.MAX, Instant.MIN)
        for (at in outside) {
            val e = assertFailsWith<CairnException.InvalidInput>("at $at") { journal.log(mood(5.0, at = at)) }
            assertEquals("at", e.field)
        }
        assertEquals("from", assertFailsWith<CairnException.InvalidInput> { journal.entries(EntryQuery(from = Instant.MAX)) }.field)
        // Up to a day ahead is allowed (a phone's clock may be behind the patient's).
        journal.log(mood(5.0, at = now() + 23 * HOUR))
    }

    @Test
    fun hugeStringsAreInvalidInputWithoutCrashing() = runBlocking<Unit> {
        val twoMb = "a".repeat(2 * 1024 * 1024)
        val tenMb = "t".repeat(10 * 1024 * 1024)
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, note = twoMb)) }
        assertFailsWith<CairnException.InvalidInput> {
            journal.log(NewEntry("journal", Value.Text(twoMb), now(), UTC))
        }
        assertFailsWith<CairnException.InvalidInput> { journal.addTracker(NewTracker(tenMb, TrackerKind.Count)) }
        // A tracker named with 10 MB is simply not a tracker.
        assertFailsWith<CairnException.UnknownTracker> { journal.log(NewEntry(tenMb, Value.Count(1), now(), UTC)) }
        assertFailsWith<CairnException.UnknownZone> { journal.log(mood(5.0, zone = FakeZones.of(FakeZones.HUGE))) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, tags = listOf(Tag(TagGroup.TRIGGER, tenMb)))) }
        assertFailsWith<CairnException.InvalidInput> { parseTag(tenMb) }
        assertFailsWith<CairnException.UnknownTracker> { journal.tracker(tenMb) }
        assertFailsWith<CairnException.InvalidInput> {
            journal.log(NewEntry("medication", Value.Medication(tenMb, true), now(), UTC))
        }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, tags = List(100) { Tag(TagGroup.OTHER, "tag $it") })) }
        assertFailsWith<CairnException.InvalidInput> { journal.entry(EntryId(tenMb)) }
        assertFailsWith<CairnException.InvalidInput> { journal.updateEntry(EntryId(tenMb), mood(5.0)) }
        // The largest accepted note is 64 KiB; the journal still works.
        val biggest = "é".repeat(32 * 1024)
        assertEquals(biggest, journal.log(mood(5.0, note = biggest)).note)
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, note = biggest + "x")) }
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun callsAfterCloseRaiseClosed() = runBlocking<Unit> {
        val e = journal.log(mood(5.0))
        journal.closeJournal()
        journal.closeJournal() // closing twice is fine
        val calls = listOf(
            call("log") { journal.log(mood(5.0)) },
            call("updateEntry") { journal.updateEntry(e.id, mood(6.0)) },
            call("deleteEntry") { journal.deleteEntry(e.id) },
            call("entry") { journal.entry(e.id) },
            call("entries") { journal.entries(EntryQuery()) },
            call("summary") { journal.summary(EntryQuery()) },
            call("tagsOnLowDays") { journal.tagsOnLowDays(EntryQuery(), "mood", 3.0) },
            call("trackers") { journal.trackers() },
            call("tracker") { journal.tracker("mood") },
            call("addTracker") { journal.addTracker(NewTracker("Urges", TrackerKind.YesNo)) },
            call("deleteTracker") { journal.deleteTracker(TrackerId("0".repeat(32))) },
            call("rekey") { journal.rekey(generateKey()) },
            call("pendingChanges") { journal.pendingChanges() },
            call("integrityCheck") { journal.integrityCheck() },
            call("reminders") { journal.reminders() },
        )
        for ((name, call) in calls) {
            assertFailsWith<CairnException.Closed>(name) { call() }
        }
        // Closed released the file: it opens again, unchanged.
        journal = Journal.open(path, key)
        assertEquals(e, journal.entry(e.id))
    }

    @Test
    fun errorMessagesDoNotRepeatPatientText() = runBlocking<Unit> {
        val secret = "Sam hurt me again and I want it to stop"
        val longSecret = secret + " " + "x".repeat(70 * 1024)
        val refused = listOf(
            call("note too long") { journal.log(mood(5.0, note = longSecret)) },
            call("NUL in note") { journal.log(mood(5.0, note = "$secret\u0000")) },
            call("value out of range") { journal.log(mood(42.0, note = secret)) },
            call("unknown zone") { journal.log(mood(5.0, zone = MARS, note = secret)) },
            call("future time") { journal.log(mood(5.0, at = now() + 3 * DAY, note = secret)) },
            call("unknown tracker named with text") { journal.log(NewEntry(secret, Value.Scale(1.0), now(), UTC, note = secret)) },
            call("zone named with text") { journal.log(mood(5.0, zone = FakeZones.of(FakeZones.SECRET), note = secret)) },
            call("tag too long") { journal.log(mood(5.0, tags = listOf(trigger("$secret $secret")))) },
            call("tracker name too long") { journal.addTracker(NewTracker("$secret $secret", TrackerKind.Text)) },
            call("text value too long") { journal.log(NewEntry("journal", Value.Text(longSecret), now(), UTC)) },
            call("medication name too long") { journal.log(NewEntry("medication", Value.Medication("$secret $secret", true), now(), UTC)) },
            call("parse a scale") { parseValue(TrackerKind.Scale(0.0, 10.0, 1.0, "", ""), secret) },
            call("parse a tag") { parseTag("trigger:$secret $secret") },
            call("update of a missing entry") { journal.updateEntry(EntryId("0".repeat(32)), mood(5.0, note = secret)) },
        )
        journal.addTracker(NewTracker(secret.take(60), TrackerKind.Text))
        val duplicate = call("duplicate tracker") { journal.addTracker(NewTracker(secret.take(60).uppercase(), TrackerKind.Text)) }
        for ((what, call) in refused + duplicate) {
            val e = assertFailsWith<CairnException>(what) { call() }
            val shown = listOf(e.message.orEmpty(), e.toString(), e.localizedMessage.orEmpty())
            for (text in shown) {
                for (words in listOf("Sam hurt", "want it to stop", "Sam_hurt", "want_it_to_stop")) {
                    assertFalse(text.contains(words, ignoreCase = true), "$what: $text")
                }
            }
        }
    }
}
