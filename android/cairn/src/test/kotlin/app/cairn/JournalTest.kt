package app.cairn

import kotlinx.coroutines.runBlocking
import org.junit.Test
import java.io.File
import java.time.ZoneId
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** The Journal object, method by method, on real SQLite files. */
class JournalTest : JournalFixture() {
    @Test
    fun createdStoreReopensWithTheSameKey() = runBlocking<Unit> {
        val logged = journal.log(mood(6.0, note = "slept badly"))
        journal.closeJournal()
        Journal.open(path, key).use { reopened ->
            assertEquals(logged, reopened.entry(logged.id))
            reopened.closeJournal()
        }
    }

    @Test
    fun createRefusesAPathThatHoldsAStore() = runBlocking<Unit> {
        assertFailsWith<CairnException.StoreExists> { Journal.create(path, generateKey()) }
        // The existing store is untouched.
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun openWithoutAStoreIsStoreNotFound() = runBlocking<Unit> {
        assertFailsWith<CairnException.StoreNotFound> { Journal.open(tmp.path("missing.cairn"), key) }
        assertTrue(!File(tmp.path("missing.cairn")).exists(), "open must not create a file")
    }

    @Test
    fun openOrCreateCreatesOnceThenOpens() = runBlocking<Unit> {
        val other = tmp.path("other.cairn")
        val otherKey = generateKey()
        val id = Journal.openOrCreate(other, otherKey).use { j ->
            j.log(mood(4.0)).id.also { j.closeJournal() }
        }
        Journal.openOrCreate(other, otherKey).use { j ->
            assertEquals(4.0, (j.entry(id).value as Value.Scale).value)
            j.closeJournal()
        }
    }

    @Test
    fun aFileThatIsNotAStoreIsNotAStore() = runBlocking<Unit> {
        val junk = tmp.path("junk.cairn")
        File(junk).writeBytes(ByteArray(8192) { (it * 7).toByte() })
        assertFailsWith<CairnException.NotAStore> { Journal.open(junk, key) }
    }

    @Test
    fun loggedEntryCarriesLocalDayAndOffset() = runBlocking<Unit> {
        val at = now() - 5 * MINUTE
        val tokyo = ZoneId.of("Asia/Tokyo")
        val e = journal.log(
            NewEntry(
                tracker = "Mood",
                value = Value.Scale(7.0),
                at = at,
                zone = tokyo,
                note = "walked to the river",
                tags = listOf(trigger("work"), activity("walk"), activity("WALK")),
            ),
        )
        assertEquals(32, e.id.value.length)
        assertEquals(TrackerId("mood"), e.tracker)
        assertEquals(Value.Scale(7.0), e.value)
        assertEquals("walked to the river", e.note)
        assertEquals(listOf(trigger("work"), activity("walk")), e.tags, "duplicate tags collapse")
        assertEquals(at, e.at)
        assertEquals(tokyo, e.zone)
        assertEquals(9 * 3600, e.utcOffsetSeconds)
        assertEquals(at.atZone(tokyo).toLocalDate(), e.localDate)
        assertEquals(1L, e.revision)
        assertTrue(e.createdAt in (now() - MINUTE)..now())
        assertEquals(e.createdAt, e.updatedAt)
        assertEquals(e, journal.entry(e.id))
    }

    @Test
    fun blankNoteIsStoredAsNone() = runBlocking<Unit> {
        assertNull(journal.log(mood(5.0, note = "   ")).note)
        assertNull(journal.log(mood(5.0)).note)
    }

    @Test
    fun everyValueKindRoundTrips() = runBlocking<Unit> {
        val yesNo = journal.addTracker(NewTracker("Went outside", TrackerKind.YesNo))
        val duration = journal.addTracker(NewTracker("Exercise", TrackerKind.Duration(maxMinutes = 600)))
        val count = journal.addTracker(NewTracker("Cigarettes", TrackerKind.Count))
        val half = journal.addTracker(
            NewTracker("Focus", TrackerKind.Scale(min = 0.0, max = 5.0, step = 0.5, minLabel = "none", maxLabel = "sharp")),
        )
        val cases = listOf(
            "sleep" to Value.Sleep(minutes = 450, quality = 7),
            "sleep" to Value.Sleep(minutes = 300, quality = null),
            "medication" to Value.Medication(name = "Sertraline 50 mg", taken = false),
            "journal" to Value.Text(text = "A long day, but I called my sister. ✓ ünïcødé"),
            "appetite" to Value.Scale(-2.0),
            yesNo.id.value to Value.YesNo(true),
            duration.id.value to Value.Duration(minutes = 45),
            count.id.value to Value.Count(value = 3),
            half.id.value to Value.Scale(2.5),
        )
        for ((tracker, value) in cases) {
            val e = journal.log(NewEntry(tracker, value, now(), UTC))
            assertEquals(value, e.value, tracker)
            assertEquals(value, journal.entry(e.id).value, tracker)
        }
        // A value that does not fit the tracker's kind is refused, and so is
        // a negative count or duration (plain Ints now).
        assertFailsWith<CairnException.InvalidInput> { journal.log(NewEntry(count.id.value, Value.Count(-1), now(), UTC)) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(NewEntry(duration.id.value, Value.Duration(-5), now(), UTC)) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(NewEntry("sleep", Value.Sleep(-1, null), now(), UTC)) }
        assertFailsWith<CairnException.InvalidInput> {
            journal.log(NewEntry("sleep", Value.Scale(7.0), now(), UTC))
        }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(11.0)) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(6.5)) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(Double.NaN)) }
        assertFailsWith<CairnException.InvalidInput> {
            journal.log(NewEntry(half.id.value, Value.Scale(2.25), now(), UTC))
        }
    }

    @Test
    fun updateEntryReplacesContentAndKeepsIdentity() = runBlocking<Unit> {
        val first = journal.log(mood(3.0, note = "before", tags = listOf(trigger("work"))))
        val updated = journal.updateEntry(first.id, mood(5.0, at = first.at, zone = UTC, note = "after"))
        assertEquals(first.id, updated.id)
        assertEquals(first.createdAt, updated.createdAt)
        assertEquals(2L, updated.revision)
        assertEquals(Value.Scale(5.0), updated.value)
        assertEquals("after", updated.note)
        assertEquals(listOf(), updated.tags)
        assertEquals(UTC, updated.zone)
        assertEquals(0, updated.utcOffsetSeconds)
        assertTrue(updated.updatedAt >= first.updatedAt)
        assertEquals(updated, journal.entry(first.id))
        assertFailsWith<CairnException.NotFound> { journal.updateEntry(EntryId("0".repeat(32)), mood(5.0)) }
    }

    @Test
    fun deletedEntryIsGoneEverywhere() = runBlocking<Unit> {
        val keep = journal.log(mood(6.0))
        val gone = journal.log(mood(2.0))
        journal.deleteEntry(gone.id)
        assertFailsWith<CairnException.NotFound> { journal.entry(gone.id) }
        assertEquals(listOf(keep.id), journal.allEntries().map { it.id })
        assertFailsWith<CairnException.NotFound> { journal.deleteEntry(gone.id) }
        assertFailsWith<CairnException.NotFound> { journal.updateEntry(gone.id, mood(3.0)) }
        assertFailsWith<CairnException.NotFound> { journal.entry(EntryId("0".repeat(32))) }
        // Something that is not an id at all is refused as input.
        assertFailsWith<CairnException.InvalidInput> { journal.entry(EntryId("no-such-id")) }
        assertFailsWith<CairnException.InvalidInput> { journal.deleteEntry(EntryId("../etc")) }
    }

    @Test
    fun entriesPageThroughEverythingInOrder() = runBlocking<Unit> {
        val base = now() - DAY
        val ids = (0 until 25).map { i -> journal.log(mood((i % 11).toDouble(), at = base + i * MINUTE)).id }

        val pages = mutableListOf<EntryPage>()
        var query = EntryQuery(limit = 10)
        while (true) {
            val page = journal.entries(query)
            pages += page
            assertTrue(page.entries.size <= 10)
            assertEquals(listOf(), page.corrupted)
            query = query.copy(after = page.next ?: break)
        }
        assertEquals(ids, pages.flatMap { p -> p.entries.map { it.id } })
        assertEquals(listOf(10, 10, 5), pages.map { it.entries.size }.filter { it > 0 })

        val newest = journal.allEntries(EntryQuery(limit = 7, newestFirst = true)).map { it.id }
        assertEquals(ids.reversed(), newest)
        assertEquals(ids, journal.entries(EntryQuery()).entries.map { it.id })
        assertNull(journal.entries(EntryQuery()).next)
    }

    @Test
    fun entriesFilterByTimeDayAndTracker() = runBlocking<Unit> {
        val threeDaysAgo = journal.log(mood(3.0, at = noonUtc(3), zone = UTC))
        val yesterday = journal.log(mood(5.0, at = noonUtc(1), zone = UTC))
        val sleep = journal.log(NewEntry("sleep", Value.Sleep(420, null), noonUtc(1) + MINUTE, UTC))
        val recent = journal.log(mood(7.0, at = now() - HOUR, zone = UTC))

        suspend fun ids(q: EntryQuery) = journal.allEntries(q).map { it.id }

        assertEquals(listOf(threeDaysAgo.id, yesterday.id, sleep.id, recent.id), ids(EntryQuery()))
        assertEquals(listOf(threeDaysAgo.id, yesterday.id, recent.id), ids(EntryQuery(tracker = "mood")))
        assertEquals(listOf(threeDaysAgo.id, yesterday.id, recent.id), ids(EntryQuery(tracker = "MOOD")))
        assertEquals(listOf(sleep.id), ids(EntryQuery(tracker = "Sleep")))
        assertEquals(
            listOf(yesterday.id, sleep.id),
            ids(EntryQuery(from = yesterday.at, to = recent.at)),
            "from is inclusive, to exclusive",
        )
        assertEquals(
            listOf(yesterday.id, sleep.id),
            ids(EntryQuery(fromDay = yesterday.localDate, toDay = yesterday.localDate)),
        )
        assertEquals(
            listOf(yesterday.id),
            ids(EntryQuery(fromDay = yesterday.localDate, toDay = yesterday.localDate, tracker = "mood")),
        )
        assertEquals(listOf(threeDaysAgo.id), ids(EntryQuery(toDay = threeDaysAgo.localDate)))
        assertEquals(listOf(), ids(EntryQuery(from = now() + DAY)))

        assertFailsWith<CairnException.InvalidInput> { journal.entries(EntryQuery(limit = 0)) }
        assertFailsWith<CairnException.InvalidInput> { journal.entries(EntryQuery(limit = -1)) }
        assertFailsWith<CairnException.InvalidInput> { journal.entries(EntryQuery(after = "not a cursor")) }
        assertFailsWith<CairnException.UnknownTracker> { journal.entries(EntryQuery(tracker = "no such tracker")) }
    }

    @Test
    fun summaryCountsAndAveragesPerTracker() = runBlocking<Unit> {
        for (v in listOf(2.0, 4.0, 9.0)) journal.log(mood(v))
        journal.log(NewEntry("sleep", Value.Sleep(480, 5), now(), UTC))
        journal.log(NewEntry("journal", Value.Text("only words"), now(), UTC))
        journal.log(NewEntry("mood", Value.Scale(1.0), noonUtc(5), UTC))

        val recent = journal.summary(EntryQuery(from = now() - HOUR, limit = 1))
        assertEquals(
            listOf(
                TrackerSummary(TrackerId("journal"), 1, null, null, null),
                TrackerSummary(TrackerId("mood"), 3, 5.0, 2.0, 9.0),
                TrackerSummary(TrackerId("sleep"), 1, 480.0, 480.0, 480.0),
            ),
            recent,
            "ordered by tracker id; limit is ignored",
        )
        val moodOnly = journal.summary(EntryQuery(tracker = "mood"))
        assertEquals(listOf(TrackerSummary(TrackerId("mood"), 4, 4.0, 1.0, 9.0)), moodOnly)
        assertEquals(listOf(), journal.summary(EntryQuery(from = now() + DAY)))
    }

    @Test
    fun tagsOnLowDaysCountsTagsOfDaysAtOrBelowThreshold() = runBlocking<Unit> {
        val lowDay = noonUtc(2)
        val goodDay = noonUtc(1)
        journal.log(mood(2.0, at = lowDay, zone = UTC, tags = listOf(trigger("work"), activity("walk"))))
        journal.log(mood(4.0, at = lowDay + HOUR, zone = UTC, tags = listOf(trigger("work"))))
        journal.log(
            NewEntry("sleep", Value.Sleep(300, null), lowDay - HOUR, UTC, tags = listOf(Tag(TagGroup.OTHER, "late"))),
        )
        journal.log(mood(9.0, at = goodDay, zone = UTC, tags = listOf(activity("walk"), trigger("family"))))

        val low = journal.tagsOnLowDays(EntryQuery(), "mood", 3.0)
        assertEquals(
            listOf(TagCount(trigger("work"), 2), TagCount(Tag(TagGroup.OTHER, "late"), 1), TagCount(activity("walk"), 1)),
            low,
        )
        assertEquals(listOf(), journal.tagsOnLowDays(EntryQuery(), "Mood", 1.0))
        assertEquals(listOf(), journal.tagsOnLowDays(EntryQuery(from = goodDay), "mood", 3.0))
        assertFailsWith<CairnException.UnknownTracker> { journal.tagsOnLowDays(EntryQuery(), "no such tracker", 3.0) }
    }

    @Test
    fun trackersListBuiltinsFirstThenCustomOnes() = runBlocking<Unit> {
        assertEquals(builtinTrackers(), journal.trackers())
        val urges = journal.addTracker(
            NewTracker("Urges", TrackerKind.Scale(0.0, 10.0, 1.0, "none", "overwhelming")),
        )
        assertEquals(32, urges.id.value.length)
        assertEquals(false, urges.builtin)
        val walks = journal.addTracker(NewTracker("  Walks  ", TrackerKind.Count))
        assertEquals("Walks", walks.name, "names are trimmed")
        assertEquals(builtinTrackers() + listOf(urges, walks), journal.trackers())

        assertEquals(urges, journal.tracker(urges.id.value))
        assertEquals(urges, journal.tracker("urges"))
        assertEquals(builtinTrackers().first { it.id == TrackerId("mood") }, journal.tracker("MOOD"))
        assertFailsWith<CairnException.UnknownTracker> { journal.tracker("no such tracker") }

        // Custom trackers survive a reopen (they are sealed in the store).
        journal.closeJournal()
        journal = Journal.open(path, key)
        assertEquals(builtinTrackers() + listOf(urges, walks), journal.trackers())
    }

    @Test
    fun addTrackerRefusesDuplicatesAndBadDefinitions() = runBlocking<Unit> {
        journal.addTracker(NewTracker("Urges", TrackerKind.YesNo))
        // A name taken, by a custom tracker or a built-in, whatever its case.
        for (taken in listOf(NewTracker("URGES", TrackerKind.Count), NewTracker("mood", TrackerKind.Count))) {
            assertFailsWith<CairnException.DuplicateTracker>(taken.toString()) { journal.addTracker(taken) }
        }
        val refused = listOf(
            NewTracker("   ", TrackerKind.Count),
            NewTracker("x".repeat(65), TrackerKind.Count),
            NewTracker("Nightmares", TrackerKind.Sleep),
            NewTracker("Pills", TrackerKind.Medication),
            NewTracker("Backwards", TrackerKind.Scale(10.0, 0.0, 1.0, "", "")),
            NewTracker("Zero step", TrackerKind.Scale(0.0, 10.0, 0.0, "", "")),
            NewTracker("Endless", TrackerKind.Scale(0.0, Double.POSITIVE_INFINITY, 1.0, "", "")),
            NewTracker("Forever", TrackerKind.Duration(maxMinutes = 0)),
            NewTracker("Backwards in time", TrackerKind.Duration(maxMinutes = -60)),
            NewTracker("Too long", TrackerKind.Duration(maxMinutes = 8 * 24 * 60)),
        )
        for (t in refused) {
            assertFailsWith<CairnException.InvalidInput>(t.toString()) { journal.addTracker(t) }
        }
        assertEquals(builtinTrackers().size + 1, journal.trackers().size)
    }

    @Test
    fun deletingATrackerKeepsItsEntries() = runBlocking<Unit> {
        val urges = journal.addTracker(NewTracker("Urges", TrackerKind.Count))
        val e = journal.log(NewEntry(urges.id.value, Value.Count(2), now(), UTC))
        journal.deleteTracker(urges.id)
        assertTrue(journal.trackers().none { it.id == urges.id })
        assertFailsWith<CairnException.UnknownTracker> { journal.tracker(urges.id.value) }
        assertEquals(e, journal.entry(e.id))
        assertFailsWith<CairnException.NotFound> { journal.deleteTracker(urges.id) }
        assertFailsWith<CairnException.InvalidInput> { journal.deleteTracker(TrackerId("mood")) }
        assertFailsWith<CairnException.NotFound> { journal.deleteTracker(TrackerId("0".repeat(32))) }
    }

    @Test
    fun rekeyMovesEverythingToTheNewKey() = runBlocking<Unit> {
        val ids = (1..3).map { journal.log(mood(it.toDouble(), at = now() - it * MINUTE, note = "note $it")).id }.reversed()
        val urges = journal.addTracker(NewTracker("Urges", TrackerKind.YesNo))
        val newKey = generateKey()
        val report = journal.rekey(newKey)
        assertTrue(report.resealed >= 4, "resealed ${report.resealed}")
        assertEquals(listOf(), report.corrupted)
        // Still usable after the re-key.
        assertEquals("note 2", journal.entry(ids[1]).note, "ids are oldest first")
        journal.closeJournal()

        assertFailsWith<CairnException.WrongKey> { Journal.open(path, key) }
        journal = Journal.open(path, newKey)
        assertEquals(ids, journal.allEntries().map { it.id })
        assertEquals(urges, journal.tracker("Urges"))
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun pendingChangesCountEveryWrite() = runBlocking<Unit> {
        val start = journal.pendingChanges()
        val a = journal.log(mood(5.0))
        journal.log(mood(6.0))
        assertEquals(start + 2, journal.pendingChanges())
        val urges = journal.addTracker(NewTracker("Urges", TrackerKind.YesNo))
        val afterTracker = journal.pendingChanges()
        assertTrue(afterTracker > start + 2)
        journal.updateEntry(a.id, mood(7.0))
        journal.deleteEntry(a.id)
        journal.deleteTracker(urges.id)
        assertTrue(journal.pendingChanges() >= afterTracker, "an outbox never shrinks without a sync")
    }

    @Test
    fun integrityCheckPassesOnAHealthyStore() = runBlocking<Unit> {
        repeat(20) { journal.log(mood((it % 11).toDouble())) }
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun journalUsesTheZoneDatabaseItIsGiven() = runBlocking<Unit> {
        val utcOnly = ZoneDatabase.inMemory()
        Journal.create(tmp.path("utc-only.cairn"), generateKey(), utcOnly).use { j ->
            assertEquals(0, j.log(mood(5.0, zone = UTC)).utcOffsetSeconds)
            assertFalse(utcOnly.contains(PARIS))
            val unknown = assertFailsWith<CairnException.UnknownZone> { j.log(mood(5.0, zone = PARIS)) }
            assertEquals("zone", unknown.field)
            utcOnly.addTzif("Europe/Paris", File("/usr/share/zoneinfo/Europe/Paris").readBytes())
            assertTrue(utcOnly.contains(PARIS))
            val paris = j.log(mood(5.0, zone = PARIS))
            assertEquals(ZoneDatabase.system().utcOffsetSeconds(PARIS, paris.at), paris.utcOffsetSeconds)
            j.closeJournal()
        }
    }

    /** Descriptors this process holds on the journal's files (Linux). */
    private fun openFilesOf(path: String): Int {
        val target = File(path).canonicalPath
        return File("/proc/self/fd").listFiles().orEmpty().count {
            runCatching { it.canonicalPath.startsWith(target) }.getOrDefault(false)
        }
    }

    @Test
    fun closeJournalReleasesTheFile() = runBlocking<Unit> {
        journal.log(mood(5.0))
        journal.entries(EntryQuery()) // a reader's connection too
        assertTrue(openFilesOf(path) > 0)
        journal.closeJournal()
        assertEquals(0, openFilesOf(path), "closeJournal returns once every connection is closed")
    }

    @Test
    fun useBlockClosesTheStoreToo() = runBlocking<Unit> {
        journal.closeJournal()
        Journal.open(path, key).use { j ->
            j.log(mood(5.0))
            assertTrue(openFilesOf(path) > 0)
        }
        // close() does not wait for the journal's threads: they let go of
        // the file soon after (the deadline only catches a leak).
        val deadline = System.nanoTime() + 30_000_000_000L
        while (openFilesOf(path) > 0 && System.nanoTime() < deadline) Thread.sleep(10)
        assertEquals(0, openFilesOf(path), "dropping the native object closes the store")
    }

    @Test
    fun kotlinCloseReleasesTheNativeHandle() = runBlocking<Unit> {
        // AutoCloseable.close() (and `use {}`) frees the Kotlin object's handle
        // and closes its journal without waiting; later calls on that object
        // fail in the bindings, before reaching Rust.
        val j = Journal.open(path, key)
        j.use { assertTrue(it.integrityCheck()) }
        assertFailsWith<IllegalStateException> { j.trackers() }
        j.close()
        // The store itself is fine.
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun keysAreNotSharedBetweenStores() = runBlocking<Unit> {
        val other = tmp.path("other.cairn")
        val otherKey = generateKey()
        assertNotEquals(key.toList(), otherKey.toList())
        Journal.create(other, otherKey).use { it.closeJournal() }
        assertFailsWith<CairnException.WrongKey> { Journal.open(other, key) }
    }
}
