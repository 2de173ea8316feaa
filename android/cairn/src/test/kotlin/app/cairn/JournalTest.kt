package app.cairn

import org.junit.After
import org.junit.Before
import org.junit.Test
import java.io.File
import java.time.Instant
import java.time.ZoneId
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** The Journal object, method by method, on real SQLite files. */
class JournalTest {
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
    fun createdStoreReopensWithTheSameKey() {
        val logged = journal.log(mood(6.0, note = "slept badly"))
        journal.closeJournal()
        Journal.open(path, key).use { reopened ->
            assertEquals(logged, reopened.entry(logged.id))
            reopened.closeJournal()
        }
    }

    @Test
    fun createRefusesAPathThatHoldsAStore() {
        assertFailsWith<CairnException.InvalidInput> { Journal.create(path, generateKey()) }
        // The existing store is untouched.
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun openWithoutAStoreIsNotFound() {
        assertFailsWith<CairnException.NotFound> { Journal.open(tmp.path("missing.cairn"), key) }
        assertTrue(!File(tmp.path("missing.cairn")).exists(), "open must not create a file")
    }

    @Test
    fun openOrCreateCreatesOnceThenOpens() {
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
    fun aFileThatIsNotAStoreIsIncompatible() {
        val junk = tmp.path("junk.cairn")
        File(junk).writeBytes(ByteArray(8192) { (it * 7).toByte() })
        assertFailsWith<CairnException.Incompatible> { Journal.open(junk, key) }
    }

    @Test
    fun loggedEntryCarriesLocalDayAndOffset() {
        val at = nowMs() - 5 * MINUTE_MS
        val e = journal.log(
            NewEntry(
                tracker = "Mood",
                value = Value.Scale(7.0),
                atMs = at,
                zone = "Asia/Tokyo",
                note = "walked to the river",
                tags = listOf(trigger("work"), activity("walk"), activity("WALK")),
            ),
        )
        assertEquals(32, e.id.length)
        assertEquals("mood", e.tracker)
        assertEquals(Value.Scale(7.0), e.value)
        assertEquals("walked to the river", e.note)
        assertEquals(listOf(trigger("work"), activity("walk")), e.tags, "duplicate tags collapse")
        assertEquals(at, e.atMs)
        assertEquals("Asia/Tokyo", e.zone)
        assertEquals(9 * 3600, e.utcOffsetSeconds)
        assertEquals(Instant.ofEpochMilli(at).atZone(ZoneId.of("Asia/Tokyo")).toLocalDate().toString(), e.localDate)
        assertEquals(1L, e.revision)
        assertTrue(e.createdAtMs in (nowMs() - MINUTE_MS)..nowMs())
        assertEquals(e.createdAtMs, e.updatedAtMs)
        assertEquals(e, journal.entry(e.id))
    }

    @Test
    fun blankNoteIsStoredAsNone() {
        assertNull(journal.log(mood(5.0, note = "   ")).note)
        assertNull(journal.log(mood(5.0)).note)
    }

    @Test
    fun everyValueKindRoundTrips() {
        val yesNo = journal.addTracker(NewTracker("Went outside", TrackerKind.YesNo))
        val duration = journal.addTracker(NewTracker("Exercise", TrackerKind.Duration(maxMinutes = 600u)))
        val count = journal.addTracker(NewTracker("Cigarettes", TrackerKind.Count))
        val half = journal.addTracker(
            NewTracker("Focus", TrackerKind.Scale(min = 0.0, max = 5.0, step = 0.5, minLabel = "none", maxLabel = "sharp")),
        )
        val cases = listOf(
            "sleep" to Value.Sleep(minutes = 450u, quality = 7u.toUByte()),
            "sleep" to Value.Sleep(minutes = 300u, quality = null),
            "medication" to Value.Medication(name = "Sertraline 50 mg", taken = false),
            "journal" to Value.Text(text = "A long day, but I called my sister. ✓ ünïcødé"),
            "appetite" to Value.Scale(-2.0),
            yesNo.id to Value.YesNo(true),
            duration.id to Value.Duration(minutes = 45u),
            count.id to Value.Count(value = 3u),
            half.id to Value.Scale(2.5),
        )
        for ((tracker, value) in cases) {
            val e = journal.log(NewEntry(tracker, value, nowMs(), "UTC"))
            assertEquals(value, e.value, tracker)
            assertEquals(value, journal.entry(e.id).value, tracker)
        }
        // A value that does not fit the tracker's kind is refused.
        assertFailsWith<CairnException.InvalidInput> {
            journal.log(NewEntry("sleep", Value.Scale(7.0), nowMs(), "UTC"))
        }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(11.0)) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(6.5)) }
        assertFailsWith<CairnException.InvalidInput> { journal.log(mood(Double.NaN)) }
        assertFailsWith<CairnException.InvalidInput> {
            journal.log(NewEntry(half.id, Value.Scale(2.25), nowMs(), "UTC"))
        }
    }

    @Test
    fun updateEntryReplacesContentAndKeepsIdentity() {
        val first = journal.log(mood(3.0, note = "before", tags = listOf(trigger("work"))))
        val updated = journal.updateEntry(first.id, mood(5.0, atMs = first.atMs, zone = "UTC", note = "after"))
        assertEquals(first.id, updated.id)
        assertEquals(first.createdAtMs, updated.createdAtMs)
        assertEquals(2L, updated.revision)
        assertEquals(Value.Scale(5.0), updated.value)
        assertEquals("after", updated.note)
        assertEquals(listOf(), updated.tags)
        assertEquals("UTC", updated.zone)
        assertEquals(0, updated.utcOffsetSeconds)
        assertTrue(updated.updatedAtMs >= first.updatedAtMs)
        assertEquals(updated, journal.entry(first.id))
        assertFailsWith<CairnException.NotFound> { journal.updateEntry("0".repeat(32), mood(5.0)) }
    }

    @Test
    fun deletedEntryIsGoneEverywhere() {
        val keep = journal.log(mood(6.0))
        val gone = journal.log(mood(2.0))
        journal.deleteEntry(gone.id)
        assertFailsWith<CairnException.NotFound> { journal.entry(gone.id) }
        assertEquals(listOf(keep.id), journal.allEntries().map { it.id })
        assertFailsWith<CairnException.NotFound> { journal.deleteEntry(gone.id) }
        assertFailsWith<CairnException.NotFound> { journal.updateEntry(gone.id, mood(3.0)) }
        assertFailsWith<CairnException.NotFound> { journal.entry("0".repeat(32)) }
        // Something that is not an id at all is refused as input.
        assertFailsWith<CairnException.InvalidInput> { journal.entry("no-such-id") }
        assertFailsWith<CairnException.InvalidInput> { journal.deleteEntry("../etc") }
    }

    @Test
    fun entriesPageThroughEverythingInOrder() {
        val base = nowMs() - DAY_MS
        val ids = (0 until 25).map { i -> journal.log(mood((i % 11).toDouble(), atMs = base + i * MINUTE_MS)).id }

        val pages = mutableListOf<EntryPage>()
        var query = EntryQuery(limit = 10u)
        while (true) {
            val page = journal.entries(query)
            pages += page
            assertTrue(page.entries.size <= 10)
            assertEquals(listOf(), page.corrupted)
            query = query.copy(after = page.next ?: break)
        }
        assertEquals(ids, pages.flatMap { p -> p.entries.map { it.id } })
        assertEquals(listOf(10, 10, 5), pages.map { it.entries.size }.filter { it > 0 })

        val newest = journal.allEntries(EntryQuery(limit = 7u, newestFirst = true)).map { it.id }
        assertEquals(ids.reversed(), newest)
        assertEquals(ids, journal.entries(EntryQuery()).entries.map { it.id })
        assertNull(journal.entries(EntryQuery()).next)
    }

    @Test
    fun entriesFilterByTimeDayAndTracker() {
        val threeDaysAgo = journal.log(mood(3.0, atMs = noonUtc(3), zone = "UTC"))
        val yesterday = journal.log(mood(5.0, atMs = noonUtc(1), zone = "UTC"))
        val sleep = journal.log(NewEntry("sleep", Value.Sleep(420u, null), noonUtc(1) + MINUTE_MS, "UTC"))
        val recent = journal.log(mood(7.0, atMs = nowMs() - HOUR_MS, zone = "UTC"))

        fun ids(q: EntryQuery) = journal.allEntries(q).map { it.id }

        assertEquals(listOf(threeDaysAgo.id, yesterday.id, sleep.id, recent.id), ids(EntryQuery()))
        assertEquals(listOf(threeDaysAgo.id, yesterday.id, recent.id), ids(EntryQuery(tracker = "mood")))
        assertEquals(listOf(threeDaysAgo.id, yesterday.id, recent.id), ids(EntryQuery(tracker = "MOOD")))
        assertEquals(listOf(sleep.id), ids(EntryQuery(tracker = "Sleep")))
        assertEquals(
            listOf(yesterday.id, sleep.id),
            ids(EntryQuery(fromMs = yesterday.atMs, toMs = recent.atMs)),
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
        assertEquals(listOf(), ids(EntryQuery(fromMs = nowMs() + DAY_MS)))

        assertFailsWith<CairnException.InvalidInput> { journal.entries(EntryQuery(limit = 0u)) }
        assertFailsWith<CairnException.InvalidInput> { journal.entries(EntryQuery(after = "not a cursor")) }
        assertFailsWith<CairnException.InvalidInput> { journal.entries(EntryQuery(tracker = "no such tracker")) }
    }

    @Test
    fun summaryCountsAndAveragesPerTracker() {
        for (v in listOf(2.0, 4.0, 9.0)) journal.log(mood(v))
        journal.log(NewEntry("sleep", Value.Sleep(480u, 5u.toUByte()), nowMs(), "UTC"))
        journal.log(NewEntry("journal", Value.Text("only words"), nowMs(), "UTC"))
        journal.log(NewEntry("mood", Value.Scale(1.0), noonUtc(5), "UTC"))

        val recent = journal.summary(EntryQuery(fromMs = nowMs() - HOUR_MS, limit = 1u))
        assertEquals(
            listOf(
                TrackerSummary("journal", 1u, null, null, null),
                TrackerSummary("mood", 3u, 5.0, 2.0, 9.0),
                TrackerSummary("sleep", 1u, 480.0, 480.0, 480.0),
            ),
            recent,
            "ordered by tracker id; limit is ignored",
        )
        val moodOnly = journal.summary(EntryQuery(tracker = "mood"))
        assertEquals(listOf(TrackerSummary("mood", 4u, 4.0, 1.0, 9.0)), moodOnly)
        assertEquals(listOf(), journal.summary(EntryQuery(fromMs = nowMs() + DAY_MS)))
    }

    @Test
    fun tagsOnLowDaysCountsTagsOfDaysAtOrBelowThreshold() {
        val lowDay = noonUtc(2)
        val goodDay = noonUtc(1)
        journal.log(mood(2.0, atMs = lowDay, zone = "UTC", tags = listOf(trigger("work"), activity("walk"))))
        journal.log(mood(4.0, atMs = lowDay + HOUR_MS, zone = "UTC", tags = listOf(trigger("work"))))
        journal.log(
            NewEntry("sleep", Value.Sleep(300u, null), lowDay - HOUR_MS, "UTC", tags = listOf(Tag(TagGroup.OTHER, "late"))),
        )
        journal.log(mood(9.0, atMs = goodDay, zone = "UTC", tags = listOf(activity("walk"), trigger("family"))))

        val low = journal.tagsOnLowDays(EntryQuery(), "mood", 3.0)
        assertEquals(
            listOf(TagCount(trigger("work"), 2u), TagCount(Tag(TagGroup.OTHER, "late"), 1u), TagCount(activity("walk"), 1u)),
            low,
        )
        assertEquals(listOf(), journal.tagsOnLowDays(EntryQuery(), "Mood", 1.0))
        assertEquals(listOf(), journal.tagsOnLowDays(EntryQuery(fromMs = goodDay), "mood", 3.0))
        assertFailsWith<CairnException.InvalidInput> { journal.tagsOnLowDays(EntryQuery(), "no such tracker", 3.0) }
    }

    @Test
    fun trackersListBuiltinsFirstThenCustomOnes() {
        assertEquals(builtinTrackers(), journal.trackers())
        val urges = journal.addTracker(
            NewTracker("Urges", TrackerKind.Scale(0.0, 10.0, 1.0, "none", "overwhelming")),
        )
        assertEquals(32, urges.id.length)
        assertEquals(false, urges.builtin)
        val walks = journal.addTracker(NewTracker("  Walks  ", TrackerKind.Count))
        assertEquals("Walks", walks.name, "names are trimmed")
        assertEquals(builtinTrackers() + listOf(urges, walks), journal.trackers())

        assertEquals(urges, journal.tracker(urges.id))
        assertEquals(urges, journal.tracker("urges"))
        assertEquals(builtinTrackers().first { it.id == "mood" }, journal.tracker("MOOD"))
        assertFailsWith<CairnException.InvalidInput> { journal.tracker("no such tracker") }

        // Custom trackers survive a reopen (they are sealed in the store).
        journal.closeJournal()
        journal = Journal.open(path, key)
        assertEquals(builtinTrackers() + listOf(urges, walks), journal.trackers())
    }

    @Test
    fun addTrackerRefusesDuplicatesAndBadDefinitions() {
        journal.addTracker(NewTracker("Urges", TrackerKind.YesNo))
        val refused = listOf(
            NewTracker("URGES", TrackerKind.Count),
            NewTracker("mood", TrackerKind.Count),
            NewTracker("   ", TrackerKind.Count),
            NewTracker("x".repeat(65), TrackerKind.Count),
            NewTracker("Nightmares", TrackerKind.Sleep),
            NewTracker("Pills", TrackerKind.Medication),
            NewTracker("Backwards", TrackerKind.Scale(10.0, 0.0, 1.0, "", "")),
            NewTracker("Zero step", TrackerKind.Scale(0.0, 10.0, 0.0, "", "")),
            NewTracker("Endless", TrackerKind.Scale(0.0, Double.POSITIVE_INFINITY, 1.0, "", "")),
            NewTracker("Forever", TrackerKind.Duration(maxMinutes = 0u)),
            NewTracker("Too long", TrackerKind.Duration(maxMinutes = 8u * 24u * 60u)),
        )
        for (t in refused) {
            assertFailsWith<CairnException.InvalidInput>(t.toString()) { journal.addTracker(t) }
        }
        assertEquals(builtinTrackers().size + 1, journal.trackers().size)
    }

    @Test
    fun deletingATrackerKeepsItsEntries() {
        val urges = journal.addTracker(NewTracker("Urges", TrackerKind.Count))
        val e = journal.log(NewEntry(urges.id, Value.Count(2u), nowMs(), "UTC"))
        journal.deleteTracker(urges.id)
        assertTrue(journal.trackers().none { it.id == urges.id })
        assertFailsWith<CairnException.InvalidInput> { journal.tracker(urges.id) }
        assertEquals(e, journal.entry(e.id))
        assertFailsWith<CairnException.NotFound> { journal.deleteTracker(urges.id) }
        assertFailsWith<CairnException.InvalidInput> { journal.deleteTracker("mood") }
        assertFailsWith<CairnException.NotFound> { journal.deleteTracker("0".repeat(32)) }
    }

    @Test
    fun rekeyMovesEverythingToTheNewKey() {
        val ids = (1..3).map { journal.log(mood(it.toDouble(), atMs = nowMs() - it * MINUTE_MS, note = "note $it")).id }.reversed()
        val urges = journal.addTracker(NewTracker("Urges", TrackerKind.YesNo))
        val newKey = generateKey()
        val report = journal.rekey(newKey)
        assertTrue(report.resealed >= 4u, "resealed ${report.resealed}")
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
    fun pendingChangesCountEveryWrite() {
        val start = journal.pendingChanges()
        val a = journal.log(mood(5.0))
        journal.log(mood(6.0))
        assertEquals(start + 2u, journal.pendingChanges())
        val urges = journal.addTracker(NewTracker("Urges", TrackerKind.YesNo))
        val afterTracker = journal.pendingChanges()
        assertTrue(afterTracker > start + 2u)
        journal.updateEntry(a.id, mood(7.0))
        journal.deleteEntry(a.id)
        journal.deleteTracker(urges.id)
        assertTrue(journal.pendingChanges() >= afterTracker, "an outbox never shrinks without a sync")
    }

    @Test
    fun integrityCheckPassesOnAHealthyStore() {
        repeat(20) { journal.log(mood((it % 11).toDouble())) }
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun journalUsesTheZoneDatabaseItIsGiven() {
        val utcOnly = ZoneDatabase.inMemory()
        Journal.create(tmp.path("utc-only.cairn"), generateKey(), utcOnly).use { j ->
            assertEquals(0, j.log(mood(5.0, zone = "UTC")).utcOffsetSeconds)
            assertFailsWith<CairnException.InvalidInput> { j.log(mood(5.0, zone = "Europe/Paris")) }
            utcOnly.addTzif("Europe/Paris", File("/usr/share/zoneinfo/Europe/Paris").readBytes())
            val paris = j.log(mood(5.0, zone = "Europe/Paris"))
            assertEquals(ZoneDatabase.system().utcOffsetSeconds("Europe/Paris", paris.atMs), paris.utcOffsetSeconds)
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
    fun closeJournalReleasesTheFile() {
        journal.log(mood(5.0))
        assertTrue(openFilesOf(path) > 0)
        journal.closeJournal()
        assertEquals(0, openFilesOf(path))
    }

    @Test
    fun useBlockClosesTheStoreToo() {
        journal.closeJournal()
        Journal.open(path, key).use { j ->
            j.log(mood(5.0))
            assertTrue(openFilesOf(path) > 0)
        }
        assertEquals(0, openFilesOf(path), "dropping the native object closes the store")
    }

    @Test
    fun kotlinCloseReleasesTheNativeHandle() {
        // AutoCloseable.close() (and `use {}`) frees the Kotlin object's handle;
        // later calls on that object fail in the bindings, before reaching Rust.
        val j = Journal.open(path, key)
        j.use { assertTrue(it.integrityCheck()) }
        assertFailsWith<IllegalStateException> { j.trackers() }
        j.close()
        // The store itself is fine.
        assertTrue(journal.integrityCheck())
    }

    @Test
    fun keysAreNotSharedBetweenStores() {
        val other = tmp.path("other.cairn")
        val otherKey = generateKey()
        assertNotEquals(key.toList(), otherKey.toList())
        Journal.create(other, otherKey).use { it.closeJournal() }
        assertFailsWith<CairnException.WrongKey> { Journal.open(other, key) }
    }
}
