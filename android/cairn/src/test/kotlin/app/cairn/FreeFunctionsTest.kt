package app.cairn

import kotlinx.coroutines.runBlocking
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue

/** The exported free functions (none of them suspends), and a panic inside the library. */
class FreeFunctionsTest {
    @Test
    fun generatedKeysAreFreshAndThirtyTwoBytes() {
        val keys = (1..16).map { generateKey() }
        assertTrue(keys.all { it.size == 32 })
        assertEquals(16, keys.map { it.toList() }.toSet().size)
        assertNotEquals(List(32) { 0.toByte() }, keys[0].toList())
    }

    @Test
    fun builtinTrackersAreTheReviewedTable() {
        val builtins = builtinTrackers()
        val ids = builtins.map { it.id.value }
        assertEquals(
            listOf("mood", "anxiety", "sleep", "energy", "appetite", "irritability", "medication", "journal"),
            ids.take(8),
        )
        assertEquals(ids.distinct(), ids)
        // A questionnaire's tracker, for its check-ins' entries.
        assertTrue(ids.containsAll(listOf("phq9", "phq2", "gad7", "gad2")), "$ids")
        for (q in questionnaires()) {
            assertEquals(TrackerKind.Questionnaire(q.id), builtins.first { it.id.value == q.id }.kind)
        }
        assertTrue(builtins.all { it.builtin })
        assertEquals(TrackerKind.Scale(0.0, 10.0, 1.0, "very low", "very good"), builtins[0].kind)
        assertEquals(TrackerKind.Sleep, builtins.first { it.id == TrackerId("sleep") }.kind)
        assertEquals(TrackerKind.Medication, builtins.first { it.id == TrackerId("medication") }.kind)
        assertEquals(TrackerKind.Text, builtins.first { it.id == TrackerId("journal") }.kind)
        val appetite = builtins.first { it.id == TrackerId("appetite") }.kind as TrackerKind.Scale
        assertEquals(-2.0 to 2.0, appetite.min to appetite.max)
    }

    @Test
    fun parseTagReadsGroupPrefixes() {
        assertEquals(Tag(TagGroup.TRIGGER, "work"), parseTag("trigger:work"))
        assertEquals(Tag(TagGroup.ACTIVITY, "long walk"), parseTag(" Activity : long walk "))
        assertEquals(Tag(TagGroup.OTHER, "rain"), parseTag("rain"))
        assertEquals(Tag(TagGroup.OTHER, "note:this"), parseTag("note:this"))
        for (bad in listOf("  ", "", "trigger:", "x".repeat(65), "tab\tinside")) {
            assertFailsWith<CairnException.InvalidInput>(bad) { parseTag(bad) }
        }
    }

    @Test
    fun parseValueReadsWhatPeopleType() {
        val mood = builtinTrackers().first { it.id == TrackerId("mood") }.kind
        assertEquals(Value.Scale(7.0), parseValue(mood, "7"))
        assertEquals(Value.Scale(7.0), parseValue(mood, " 7.0 "))
        assertEquals(Value.YesNo(true), parseValue(TrackerKind.YesNo, "yes"))
        assertEquals(Value.YesNo(false), parseValue(TrackerKind.YesNo, "N"))
        assertEquals(Value.Duration(450), parseValue(TrackerKind.Duration(600), "7h30m"))
        assertEquals(Value.Duration(90), parseValue(TrackerKind.Duration(600), "1.5h"))
        assertEquals(Value.Sleep(450, null), parseValue(TrackerKind.Sleep, "7:30"))
        assertEquals(Value.Count(12), parseValue(TrackerKind.Count, "12"))
        assertEquals(Value.Text("a good day"), parseValue(TrackerKind.Text, "a good day"))
        assertEquals(Value.Medication("Sertraline 50 mg", true), parseValue(TrackerKind.Medication, "Sertraline 50 mg"))

        val refused = listOf(
            mood to "seven", mood to "11", mood to "6.5", mood to "NaN", mood to "",
            TrackerKind.YesNo to "maybe",
            TrackerKind.Duration(60) to "2h",
            TrackerKind.Duration(600) to "soon",
            TrackerKind.Duration(-60) to "1h",
            TrackerKind.Sleep to "25h",
            TrackerKind.Count to "-1",
            TrackerKind.Count to "100001",
            TrackerKind.Text to "   ",
        )
        for ((kind, text) in refused) {
            assertFailsWith<CairnException.InvalidInput>("$kind / $text") { parseValue(kind, text) }
        }
    }

    @Test
    fun coreVersionIsSemver() {
        assertTrue(Regex("""\d+\.\d+\.\d+([-+].*)?""").matches(coreVersion()), coreVersion())
    }

    @Test
    fun constantsNeverThrowAndAgree() {
        assertEquals("cairn-", notificationIdPrefix())
        assertEquals(PlatformLimits(maxPending = 64, exactAlarms = true, inexactWindowMinutes = 10), iosLimits())
        assertTrue(androidLimits(true).exactAlarms)
        assertFalse(androidLimits(false).exactAlarms)
        assertTrue(androidLimits(false).inexactWindowMinutes >= 10)
        assertEquals(builtinTrackers(), builtinTrackers())
    }

    /**
     * `testingPanic` exists only in bindings generated from a `testing` build
     * (tests/kotlin.sh): a panic inside a journal call arrives as
     * `CairnException.Internal`, the JVM and the journal keep working.
     */
    @Test
    fun rustPanicArrivesAsInternalAndTheJournalKeepsWorking() = runBlocking<Unit> {
        val tmp = TempFolder()
        try {
            Journal.create(tmp.path(), generateKey()).use { j ->
                repeat(3) {
                    val e = assertFailsWith<CairnException.Internal> { j.testingPanic() }
                    assertEquals("internal error in Cairn", e.message)
                    assertFalse(e.message.contains("deliberate"), "the panic's own words stay inside")
                }
                // The journal (its reader thread included) still works.
                assertEquals(Value.Scale(5.0), j.log(mood(5.0)).value)
                assertEquals(1, j.entries(EntryQuery()).entries.size)
                j.closeJournal()
            }
            assertEquals(32, generateKey().size)
        } finally {
            tmp.delete()
        }
    }
}
