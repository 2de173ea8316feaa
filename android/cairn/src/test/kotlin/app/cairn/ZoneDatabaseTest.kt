package app.cairn

import org.junit.After
import org.junit.Test
import java.io.ByteArrayOutputStream
import java.io.DataOutputStream
import java.io.File
import java.time.Instant
import java.time.ZoneId
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

/** ZoneDatabase's four sources, checked against java.time on the host's zoneinfo. */
class ZoneDatabaseTest {
    private val tmp = TempFolder()

    @After
    fun tearDown() = tmp.delete()

    private val winter = Instant.parse("2026-01-15T12:00:00Z").toEpochMilli()
    private val summer = Instant.parse("2026-07-15T12:00:00Z").toEpochMilli()

    private fun javaOffset(zone: String, atMs: Long) =
        ZoneId.of(zone).rules.getOffset(Instant.ofEpochMilli(atMs)).totalSeconds

    @Test
    fun systemDatabaseFollowsDaylightSaving() {
        val db = ZoneDatabase.system()
        assertEquals(3600, db.utcOffsetSeconds("Europe/Paris", winter))
        assertEquals(7200, db.utcOffsetSeconds("Europe/Paris", summer))
        assertEquals(9 * 3600, db.utcOffsetSeconds("Asia/Tokyo", summer))
        assertEquals(0, db.utcOffsetSeconds("UTC", summer))
        // Agrees with java.time around the clock change and far ahead.
        val paris = listOf("2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z", "2026-10-25T00:59:59Z", "2026-10-25T01:00:00Z", "2090-07-01T00:00:00Z")
        for (t in paris.map { Instant.parse(it).toEpochMilli() }) {
            assertEquals(javaOffset("Europe/Paris", t), db.utcOffsetSeconds("Europe/Paris", t), Instant.ofEpochMilli(t).toString())
        }
    }

    @Test
    fun directoryReadsATzifTree() {
        val db = ZoneDatabase.directory("/usr/share/zoneinfo")
        assertEquals(javaOffset("Asia/Tokyo", 0), db.utcOffsetSeconds("Asia/Tokyo", 0))
        assertEquals(javaOffset("America/New_York", summer), db.utcOffsetSeconds("America/New_York", summer))
        assertFailsWith<CairnException.InvalidInput> { db.utcOffsetSeconds("Europe", summer) }
    }

    @Test
    fun directoryWithoutTheZoneKnowsOnlyUtc() {
        val db = ZoneDatabase.directory(tmp.dir.toString())
        assertEquals(0, db.utcOffsetSeconds("UTC", summer))
        assertFailsWith<CairnException.InvalidInput> { db.utcOffsetSeconds("Asia/Tokyo", summer) }
    }

    @Test
    fun inMemoryDatabaseLearnsZonesFromTzifBytes() {
        val db = ZoneDatabase.inMemory()
        assertEquals(0, db.utcOffsetSeconds("UTC", summer))
        assertFailsWith<CairnException.InvalidInput> { db.utcOffsetSeconds("Asia/Tokyo", summer) }
        db.addTzif("Asia/Tokyo", File("/usr/share/zoneinfo/Asia/Tokyo").readBytes())
        assertEquals(9 * 3600, db.utcOffsetSeconds("Asia/Tokyo", summer))
        db.addTzif("Europe/Paris", File("/usr/share/zoneinfo/Europe/Paris").readBytes())
        assertEquals(7200, db.utcOffsetSeconds("Europe/Paris", summer))

        // Bytes that are not TZif and names that are not IANA names are refused.
        assertFailsWith<CairnException> { db.addTzif("Mars/Base", "not tzif".toByteArray()) }
        assertFailsWith<CairnException> { db.addTzif("Mars/Base", ByteArray(0)) }
        assertFailsWith<CairnException.InvalidInput> { db.addTzif("../etc/passwd", File("/usr/share/zoneinfo/UTC").readBytes()) }
        assertFailsWith<CairnException.InvalidInput> { db.utcOffsetSeconds("Mars/Base", summer) }
    }

    @Test
    fun androidTzdataFileIsRead() {
        val path = tmp.path("tzdata")
        File(path).writeBytes(androidTzdata(listOf("Asia/Kolkata", "Europe/Paris", "America/Sao_Paulo")))
        val db = ZoneDatabase.androidTzdata(path)
        assertEquals(19_800, db.utcOffsetSeconds("Asia/Kolkata", summer))
        assertEquals(3600, db.utcOffsetSeconds("Europe/Paris", winter))
        assertEquals(javaOffset("America/Sao_Paulo", summer), db.utcOffsetSeconds("America/Sao_Paulo", summer))
        assertFailsWith<CairnException.InvalidInput> { db.utcOffsetSeconds("Asia/Tokyo", summer) }
    }

    @Test
    fun unreadableAndroidTzdataIsRefusedUpFront() {
        assertFailsWith<CairnException.Storage> { ZoneDatabase.androidTzdata(tmp.path("no-such-tzdata")) }
        val junk = tmp.path("junk")
        File(junk).writeText("not a tzdata file at all, not even close")
        assertFailsWith<CairnException.Storage> { ZoneDatabase.androidTzdata(junk) }
        // A valid file without UTC in it still knows UTC.
        val path = tmp.path("tzdata")
        File(path).writeBytes(androidTzdata(listOf("Asia/Tokyo")))
        assertEquals(0, ZoneDatabase.androidTzdata(path).utcOffsetSeconds("UTC", summer))
    }

    @Test
    fun directoryThatIsNotAFolderIsInvalidInput() {
        assertFailsWith<CairnException.InvalidInput> { ZoneDatabase.directory(tmp.path("no-such-folder")) }
        val file = tmp.path("a-file")
        File(file).writeText("x")
        assertFailsWith<CairnException.InvalidInput> { ZoneDatabase.directory(file) }
    }

    @Test
    fun badZoneNamesAreInvalidInput() {
        val db = ZoneDatabase.system()
        for (name in listOf("Mars/Base", "", "../../etc/passwd", "/etc/passwd", "Europe//Paris", "Europe/Paris\u0000", "x".repeat(10_000))) {
            assertFailsWith<CairnException.InvalidInput>(name.take(40)) { db.utcOffsetSeconds(name, summer) }
        }
    }

    /** Android's concatenated file: header, 52-byte index entries, then the TZif data. */
    private fun androidTzdata(zones: List<String>): ByteArray {
        val blobs = zones.map { File("/usr/share/zoneinfo/$it").readBytes() }
        val indexOffset = 24
        val dataOffset = indexOffset + 52 * zones.size
        val out = ByteArrayOutputStream()
        DataOutputStream(out).run {
            write("tzdata2026a".toByteArray() + 0)
            writeInt(indexOffset)
            writeInt(dataOffset)
            writeInt(dataOffset + blobs.sumOf { it.size })
            var offset = 0
            for ((name, blob) in zones.zip(blobs)) {
                write(name.toByteArray().copyOf(40))
                writeInt(offset)
                writeInt(blob.size)
                writeInt(0)
                offset += blob.size
            }
            blobs.forEach { write(it) }
        }
        return out.toByteArray()
    }
}
