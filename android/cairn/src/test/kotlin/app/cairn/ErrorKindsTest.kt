package app.cairn

import kotlinx.coroutines.runBlocking
import org.junit.Before
import org.junit.Test
import java.io.File
import java.io.RandomAccessFile
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

/**
 * Every kind of CairnException, each produced by a real call, with the
 * fields it carries. Its `message` is a plain sentence (no `field=...`
 * dump, no class name) and never holds what the patient wrote.
 */
class ErrorKindsTest : JournalFixture() {
    private val seen = mutableSetOf<String>()

    @Before
    fun logWhatNoErrorMayRepeat() = runBlocking<Unit> {
        // What the patient wrote, which no error may repeat.
        journal.log(mood(2.0, note = SECRET, tags = listOf(trigger(SECRET_TAG))))
    }

    /** The kind's name; exhaustive, so a new kind fails to compile here until it is tested. */
    private fun kind(e: CairnException): String = when (e) {
        is CairnException.InvalidInput -> "InvalidInput"
        is CairnException.KeyLength -> "KeyLength"
        is CairnException.UnknownZone -> "UnknownZone"
        is CairnException.UnknownTracker -> "UnknownTracker"
        is CairnException.DuplicateTracker -> "DuplicateTracker"
        is CairnException.WrongKey -> "WrongKey"
        is CairnException.Corrupted -> "Corrupted"
        is CairnException.StoreExists -> "StoreExists"
        is CairnException.StoreNotFound -> "StoreNotFound"
        is CairnException.NotAStore -> "NotAStore"
        is CairnException.Incompatible -> "Incompatible"
        is CairnException.NotFound -> "NotFound"
        is CairnException.Closed -> "Closed"
        is CairnException.Storage -> "Storage"
        is CairnException.Io -> "Io"
        is CairnException.Internal -> "Internal"
        // Sync: each produced by a real exchange with cairn-clinic in
        // ClinicSyncTest (all but ServerBusy, EnrollmentExpired and
        // ProtocolIncompatible, which that server cannot be made to answer
        // from a test: a busy database, a code past its expiry by the
        // server's clock, another major protocol version).
        is CairnException.NotEnrolled -> "NotEnrolled"
        is CairnException.AlreadyEnrolled -> "AlreadyEnrolled"
        is CairnException.EnrollmentUsed -> "EnrollmentUsed"
        is CairnException.EnrollmentExpired -> "EnrollmentExpired"
        is CairnException.EnrollmentRevoked -> "EnrollmentRevoked"
        is CairnException.DeviceRevoked -> "DeviceRevoked"
        is CairnException.SyncRefused -> "SyncRefused"
        is CairnException.BadReply -> "BadReply"
        is CairnException.StaleReply -> "StaleReply"
        is CairnException.ServerBusy -> "ServerBusy"
        is CairnException.ProtocolIncompatible -> "ProtocolIncompatible"
    }

    /** [e] is a plain sentence without the patient's words; records its kind. */
    private fun <E : CairnException> plain(e: E): E {
        val m = assertNotNull(e.message, kind(e))
        assertTrue(m.isNotBlank(), kind(e))
        assertFalse('=' in m, "a dump, not a sentence: $m")
        assertFalse(m.contains("Exception") || m.startsWith(kind(e)), "a class name, not a sentence: $m")
        assertEquals(m, e.toString())
        assertEquals(m, e.localizedMessage)
        for (words in listOf("Sam", "hurt", "stop", "bruise")) {
            assertFalse(m.contains(words, ignoreCase = true), "${kind(e)} repeats patient text: $m")
        }
        seen += kind(e)
        return e
    }

    @Test
    fun everyKindFromARealCall() = runBlocking<Unit> {
        val invalid = plain(assertFailsWith<CairnException.InvalidInput> { journal.log(mood(5.0, note = SECRET.repeat(3000))) })
        assertEquals("note", invalid.field)
        assertTrue(invalid.reason.isNotBlank())
        assertEquals("invalid note: ${invalid.reason}", invalid.message)

        val keyLength = plain(assertFailsWith<CairnException.KeyLength> { Journal.open(path, ByteArray(16)) })
        assertEquals(16L, keyLength.got)

        val zone = plain(assertFailsWith<CairnException.UnknownZone> { journal.log(mood(5.0, zone = FakeZones.of(FakeZones.SECRET), note = SECRET)) })
        assertEquals("zone", zone.field)

        plain(assertFailsWith<CairnException.UnknownTracker> { journal.log(NewEntry(SECRET, Value.Scale(1.0), now(), UTC, note = SECRET)) })

        journal.addTracker(NewTracker(SECRET_TAG, TrackerKind.Text))
        plain(assertFailsWith<CairnException.DuplicateTracker> { journal.addTracker(NewTracker(SECRET_TAG.uppercase(), TrackerKind.Count)) })

        plain(assertFailsWith<CairnException.WrongKey> { Journal.open(path, generateKey()) })

        plain(assertFailsWith<CairnException.StoreExists> { Journal.create(path, generateKey()) })

        plain(assertFailsWith<CairnException.StoreNotFound> { Journal.open(tmp.path("missing.cairn"), key) })

        val junk = File(tmp.path("junk.cairn")).apply { writeText("$SECRET\n".repeat(500)) }
        plain(assertFailsWith<CairnException.NotAStore> { Journal.open(junk.path, key) })

        val missing = EntryId("0".repeat(32))
        val notFound = plain(assertFailsWith<CairnException.NotFound> { journal.entry(missing) })
        assertEquals("entries" to missing.value, notFound.table to notFound.id)

        // SQLite cannot make a file in a folder that does not exist.
        val storage = plain(assertFailsWith<CairnException.Storage> { Journal.create(tmp.path("no/such/folder/journal.cairn"), generateKey()) })
        assertTrue(storage.detail.isNotBlank())

        val io = plain(assertFailsWith<CairnException.Io> { ZoneDatabase.androidTzdata(tmp.path("no-such-tzdata")) })
        assertTrue(io.detail.isNotBlank())

        plain(assertFailsWith<CairnException.Internal> { journal.testingPanic() })

        val other = tmp.path("other.cairn")
        Journal.create(other, key).use { j ->
            j.closeJournal()
            plain(assertFailsWith<CairnException.Closed> { j.log(mood(5.0, note = SECRET)) })
            plain(assertFailsWith<CairnException.Closed> { j.reminders() })
        }

        assertEquals(
            setOf(
                "InvalidInput", "KeyLength", "UnknownZone", "UnknownTracker", "DuplicateTracker", "WrongKey",
                "StoreExists", "StoreNotFound", "NotAStore", "NotFound", "Storage", "Io", "Internal", "Closed",
            ),
            seen,
        )
    }

    @Test
    fun aDamagedRecordIsCorruptedNamingItsTableAndId() = runBlocking<Unit> {
        val e = journal.log(mood(3.0, note = SECRET))
        journal.closeJournal()
        testingTamper(path, "entries", e.id.value, "flip_body")
        journal.close()
        journal = Journal.open(path, key)
        val corrupted = plain(assertFailsWith<CairnException.Corrupted> { journal.entry(e.id) })
        assertEquals("entries" to e.id.value, corrupted.table to corrupted.id)
        assertTrue(corrupted.message.contains(e.id.value), corrupted.message)
    }

    @Test
    fun aStoreFromANewerVersionIsIncompatible() = runBlocking<Unit> {
        journal.closeJournal()
        journal.close()
        // Everything is in the main file once the journal is closed.
        assertFalse(File("$path-wal").let { it.exists() && it.length() > 0 }, "the log was checkpointed")
        // SQLite keeps `user_version`, the store's schema version, at byte 60
        // of the file's header: a later Cairn would have raised it.
        RandomAccessFile(path, "rw").use { f ->
            f.seek(60)
            f.writeInt(99)
        }
        val incompatible = plain(assertFailsWith<CairnException.Incompatible> { Journal.open(path, key) })
        assertEquals(99L, incompatible.found)
        assertTrue(incompatible.supported in 1L until 99L, "supported ${incompatible.supported}")
        // Put back, it opens again: nothing was changed by the refusal.
        RandomAccessFile(path, "rw").use { f ->
            f.seek(60)
            f.writeInt(incompatible.supported.toInt())
        }
        journal = Journal.open(path, key)
        assertEquals(SECRET, journal.allEntries().single().note)
    }

    private companion object {
        const val SECRET = "Sam hurt me again and I want it to stop"
        const val SECRET_TAG = "bruise on my arm"
    }
}
