package app.cairn

import org.junit.Assume.assumeTrue
import org.junit.Test
import java.lang.reflect.InvocationTargetException
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/** The exported free functions. */
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
        assertEquals(
            listOf("mood", "anxiety", "sleep", "energy", "appetite", "irritability", "medication", "journal"),
            builtins.map { it.id },
        )
        assertTrue(builtins.all { it.builtin })
        assertEquals(TrackerKind.Scale(0.0, 10.0, 1.0, "very low", "very good"), builtins[0].kind)
        assertEquals(TrackerKind.Sleep, builtins.first { it.id == "sleep" }.kind)
        assertEquals(TrackerKind.Medication, builtins.first { it.id == "medication" }.kind)
        assertEquals(TrackerKind.Text, builtins.first { it.id == "journal" }.kind)
        val appetite = builtins.first { it.id == "appetite" }.kind as TrackerKind.Scale
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
        val mood = builtinTrackers().first { it.id == "mood" }.kind
        assertEquals(Value.Scale(7.0), parseValue(mood, "7"))
        assertEquals(Value.Scale(7.0), parseValue(mood, " 7.0 "))
        assertEquals(Value.YesNo(true), parseValue(TrackerKind.YesNo, "yes"))
        assertEquals(Value.YesNo(false), parseValue(TrackerKind.YesNo, "N"))
        assertEquals(Value.Duration(450u), parseValue(TrackerKind.Duration(600u), "7h30m"))
        assertEquals(Value.Duration(90u), parseValue(TrackerKind.Duration(600u), "1.5h"))
        assertEquals(Value.Sleep(450u, null), parseValue(TrackerKind.Sleep, "7:30"))
        assertEquals(Value.Count(12u), parseValue(TrackerKind.Count, "12"))
        assertEquals(Value.Text("a good day"), parseValue(TrackerKind.Text, "a good day"))
        assertEquals(Value.Medication("Sertraline 50 mg", true), parseValue(TrackerKind.Medication, "Sertraline 50 mg"))

        val refused = listOf(
            mood to "seven", mood to "11", mood to "6.5", mood to "NaN", mood to "",
            TrackerKind.YesNo to "maybe",
            TrackerKind.Duration(60u) to "2h",
            TrackerKind.Duration(600u) to "soon",
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

    /**
     * `testingPanic` exists only in bindings generated from a `testing` build
     * (tests/kotlin.sh sets -Dcairn.testing=true); the committed bindings lack
     * it, so it is called by reflection to keep this file compiling against both.
     */
    @Test
    fun rustPanicArrivesAsInternalExceptionAndTheJvmKeepsRunning() {
        val testingPanic = runCatching {
            Class.forName("app.cairn.Cairn_ffiKt").getMethod("testingPanic")
        }.getOrNull()
        if (System.getProperty("cairn.testing") == "true") {
            if (testingPanic == null) fail("the bindings lack testingPanic: build cairn-ffi with --features testing")
        } else {
            assumeTrue("bindings built without the `testing` feature", testingPanic != null)
        }
        repeat(3) {
            val thrown = try {
                testingPanic!!.invoke(null)
                null
            } catch (e: InvocationTargetException) {
                e.targetException
            }
            assertIs<InternalException>(thrown)
            assertTrue(thrown.message!!.contains("deliberate panic"), thrown.message)
        }
        // The library still works after the panics.
        assertEquals(32, generateKey().size)
        val tmp = TempFolder()
        try {
            Journal.create(tmp.path(), generateKey()).use { j ->
                assertEquals(Value.Scale(5.0), j.log(mood(5.0)).value)
                j.closeJournal()
            }
        } finally {
            tmp.delete()
        }
    }
}
