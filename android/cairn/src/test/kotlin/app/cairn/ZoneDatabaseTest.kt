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
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** ZoneDatabase's four sources, checked against java.time on the host's zoneinfo. */
class ZoneDatabaseTest {
    private val tmp = TempFolder()

    @After
    fun tearDown() = tmp.delete()

    private val winter = Instant.parse("2026-01-15T12:00:00Z")
    private val summer = Instant.parse("2026-07-15T12:00:00Z")
    private val tokyo = ZoneId.of("Asia/Tokyo")

    private fun javaOffset(zone: ZoneId, at: Instant) = zone.rules.getOffset(at).totalSeconds

    @Test
    fun systemDatabaseFollowsDaylightSaving() {
        val db = ZoneDatabase.system()
        assertEquals(3600, db.utcOffsetSeconds(PARIS, winter))
        assertEquals(7200, db.utcOffsetSeconds(PARIS, summer))
        assertEquals(9 * 3600, db.utcOffsetSeconds(tokyo, summer))
        assertEquals(0, db.utcOffsetSeconds(UTC, summer))
        // Agrees with java.time around the clock change and far ahead.
        val paris = listOf("2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z", "2026-10-25T00:59:59Z", "2026-10-25T01:00:00Z", "2090-07-01T00:00:00Z")
        for (t in paris.map(Instant::parse)) {
            assertEquals(javaOffset(PARIS, t), db.utcOffsetSeconds(PARIS, t), t.toString())
        }
    }

    @Test
    fun directoryReadsATzifTree() {
        val db = ZoneDatabase.directory("/usr/share/zoneinfo")
        assertEquals(javaOffset(tokyo, Instant.EPOCH), db.utcOffsetSeconds(tokyo, Instant.EPOCH))
        val newYork = ZoneId.of("America/New_York")
        assertEquals(javaOffset(newYork, summer), db.utcOffsetSeconds(newYork, summer))
        assertTrue(db.contains(newYork))
        // A folder of the tree is not a zone.
        val folder = FakeZones.of(FakeZones.FOLDER)
        assertFalse(db.contains(folder))
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(folder, summer) }
    }

    @Test
    fun directoryWithoutTheZoneKnowsOnlyUtc() {
        val db = ZoneDatabase.directory(tmp.dir.toString())
        assertEquals(0, db.utcOffsetSeconds(UTC, summer))
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(tokyo, summer) }
    }

    @Test
    fun inMemoryDatabaseLearnsZonesFromTzifBytes() {
        val db = ZoneDatabase.inMemory()
        assertEquals(0, db.utcOffsetSeconds(UTC, summer))
        assertFalse(db.contains(tokyo))
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(tokyo, summer) }
        db.addTzif("Asia/Tokyo", File("/usr/share/zoneinfo/Asia/Tokyo").readBytes())
        assertTrue(db.contains(tokyo))
        assertEquals(9 * 3600, db.utcOffsetSeconds(tokyo, summer))
        db.addTzif("Europe/Paris", File("/usr/share/zoneinfo/Europe/Paris").readBytes())
        assertEquals(7200, db.utcOffsetSeconds(PARIS, summer))

        // Bytes that are not TZif and names that are not IANA names are refused.
        assertFailsWith<CairnException> { db.addTzif("Mars/Base", "not tzif".toByteArray()) }
        assertFailsWith<CairnException> { db.addTzif("Mars/Base", ByteArray(0)) }
        assertFailsWith<CairnException.UnknownZone> { db.addTzif("../etc/passwd", File("/usr/share/zoneinfo/UTC").readBytes()) }
        assertFalse(db.contains(FakeZones.of(FakeZones.TRAVERSAL)))
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(MARS, summer) }
    }

    @Test
    fun androidTzdataFileIsRead() {
        val path = tmp.path("tzdata")
        File(path).writeBytes(androidTzdata(listOf("Asia/Kolkata", "Europe/Paris", "America/Sao_Paulo")))
        val db = ZoneDatabase.androidTzdata(path)
        assertEquals(19_800, db.utcOffsetSeconds(ZoneId.of("Asia/Kolkata"), summer))
        assertEquals(3600, db.utcOffsetSeconds(PARIS, winter))
        val saoPaulo = ZoneId.of("America/Sao_Paulo")
        assertEquals(javaOffset(saoPaulo, summer), db.utcOffsetSeconds(saoPaulo, summer))
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(tokyo, summer) }
    }

    @Test
    fun unreadableAndroidTzdataIsRefusedUpFront() {
        assertFailsWith<CairnException.Io> { ZoneDatabase.androidTzdata(tmp.path("no-such-tzdata")) }
        val junk = tmp.path("junk")
        File(junk).writeText("not a tzdata file at all, not even close")
        assertFailsWith<CairnException.Io> { ZoneDatabase.androidTzdata(junk) }
        // A valid file without UTC in it still knows UTC.
        val path = tmp.path("tzdata")
        File(path).writeBytes(androidTzdata(listOf("Asia/Tokyo")))
        assertEquals(0, ZoneDatabase.androidTzdata(path).utcOffsetSeconds(UTC, summer))
    }

    @Test
    fun directoryThatIsNotAFolderIsInvalidInput() {
        assertFailsWith<CairnException.InvalidInput> { ZoneDatabase.directory(tmp.path("no-such-folder")) }
        val file = tmp.path("a-file")
        File(file).writeText("x")
        assertFailsWith<CairnException.InvalidInput> { ZoneDatabase.directory(file) }
    }

    @Test
    fun zonesTheDatabaseLacksAreRefused() {
        // java.time refuses most bad names before Cairn sees them (an empty
        // one, "/etc/passwd", a NUL); these it accepts (FakeZones) and Cairn
        // must refuse, never reading a file outside its zoneinfo tree.
        val db = ZoneDatabase.system()
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(MARS, summer) }
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(FakeZones.of(FakeZones.TRAVERSAL), summer) }
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(FakeZones.of(FakeZones.HUGE), summer) }
        assertFalse(db.contains(FakeZones.of(FakeZones.TRAVERSAL)))
        // An offset is not a zone of the database either.
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(ZoneId.of("+02:00"), summer) }
        assertFailsWith<CairnException.UnknownZone> { db.utcOffsetSeconds(ZoneId.of("GMT+02:00"), summer) }
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
