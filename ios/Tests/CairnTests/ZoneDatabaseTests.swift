import Cairn
import CairnKit
import Foundation
import XCTest

final class ZoneDatabaseTests: XCTestCase {
    // 2026-01-15T12:00Z (winter in Paris) and 2026-07-15T12:00Z (summer).
    let january = utc("2026-01-15T12:00")
    let july = utc("2026-07-15T12:00")

    private func assertKnowsParisTokyoAndUTC(_ db: ZoneDatabase, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try db.utcOffsetSeconds(zone: paris, at: january), 3600, file: file, line: line)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: paris, at: july), 7200, file: file, line: line)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: tokyo, at: july), 9 * 3600, file: file, line: line)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: utcZone, at: july), 0, file: file, line: line)
        XCTAssertTrue(db.contains(zone: paris), file: file, line: line)
        XCTAssertTrue(db.contains(zone: utcZone), file: file, line: line)
    }

    func testSystemDatabaseFollowsDaylightSaving() throws {
        try assertKnowsParisTokyoAndUTC(ZoneDatabase.system())
    }

    func testSystemDatabaseAgreesWithFoundation() throws {
        let db = try ZoneDatabase.system()
        let now = rightNow()
        for id in ["Europe/Paris", "Asia/Tokyo", "UTC", "America/New_York"] {
            let expected = zone(id).secondsFromGMT(for: now)
            XCTAssertEqual(try db.utcOffsetSeconds(zone: zone(id), at: now), Int32(expected), id)
        }
    }

    func testDirectoryDatabaseReadsTzifFiles() async throws {
        try assertKnowsParisTokyoAndUTC(ZoneDatabase.directory(path: "/usr/share/zoneinfo"))

        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = try ZoneDatabase.directory(path: folder.path)
        XCTAssertFalse(empty.contains(zone: paris))
        await assertUnknownZone("zone") { try empty.utcOffsetSeconds(zone: paris, at: july) }
    }

    func testDirectoryDatabaseNeedsAFolder() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("my-secret-zones")
        try Data("not a folder".utf8).write(to: file)
        for path in [
            folder.appendingPathComponent("no-such-zoneinfo").path,
            file.path,
            "/usr/share/zoneinfo/Europe/Paris",
            "",
        ] {
            let error = await assertInvalid("path", path) { try ZoneDatabase.directory(path: path) }
            if let message = error?.localizedDescription, !path.isEmpty {
                XCTAssertFalse(message.contains(path), message)
                XCTAssertFalse(message.contains("my-secret-zones"), message)
            }
        }
    }

    /// A `TimeZone` always names a zone Foundation knows: the zones a
    /// database lacks are the ones Foundation makes from an offset alone.
    func testUnknownZonesAreUnknownZone() async throws {
        let db = try ZoneDatabase.system()
        let fixed = [5 * 3600, -(3 * 3600 + 1800), 14 * 3600].map { TimeZone(secondsFromGMT: $0)! }
        for zone in fixed {
            XCTAssertFalse(db.contains(zone: zone), zone.identifier)
            await assertUnknownZone("zone", zone.identifier) { try db.utcOffsetSeconds(zone: zone, at: july) }
        }
    }

    func testAndroidTzdataFileIsRead() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tzdata")
        try androidTzdata(zones: ["Asia/Tokyo", "Europe/Paris"]).write(to: file)

        let db = try ZoneDatabase.androidTzdata(path: file.path)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: tokyo, at: july), 9 * 3600)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: paris, at: january), 3600)
        await assertUnknownZone("zone") { try db.utcOffsetSeconds(zone: zone("America/New_York"), at: july) }

        // A well-formed file without any zone is accepted (UTC only).
        let empty = folder.appendingPathComponent("tzdata-empty")
        try androidTzdata(zones: []).write(to: empty)
        let none = try ZoneDatabase.androidTzdata(path: empty.path)
        await assertUnknownZone("zone") { try none.utcOffsetSeconds(zone: tokyo, at: july) }
    }

    func testAndroidTzdataIsCheckedWhenTheDatabaseIsMade() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let garbage = folder.appendingPathComponent("garbage")
        try Data("not a tzdata file at all.....".utf8).write(to: garbage)
        let short = folder.appendingPathComponent("short")
        try Data("tzdata".utf8).write(to: short)
        let tzif = "/usr/share/zoneinfo/Europe/Paris"  // TZif, not Android's layout
        var truncated = try androidTzdata(zones: ["Asia/Tokyo"])
        truncated.removeLast(truncated.count - 30)  // the index runs past the end
        let cut = folder.appendingPathComponent("cut")
        try truncated.write(to: cut)

        for path in [
            garbage.path, short.path, tzif, cut.path,
            folder.appendingPathComponent("none").path,  // missing
            folder.path,  // a folder
            "",
        ] {
            await assertThrows(.io, path) { try ZoneDatabase.androidTzdata(path: path) }
        }
    }

    func testInMemoryDatabaseKnowsOnlyUTCAndAddedZones() async throws {
        let db = try ZoneDatabase.inMemory()
        await assertUnknownZone("zone") { try db.utcOffsetSeconds(zone: tokyo, at: july) }

        let tzif = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Asia/Tokyo"))
        try db.addTzif(name: "Asia/Tokyo", tzif: tzif)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: tokyo, at: july), 9 * 3600)
    }

    func testAddTzifRefusesBadNamesAndBadData() async throws {
        let db = try ZoneDatabase.inMemory()
        let tzif = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Europe/Paris"))
        // A name that cannot be a zone's (the core says `unknownZone`).
        await assertThrows(.unknownZone) { try db.addTzif(name: "../Paris", tzif: tzif) }
        await assertThrows(.unknownZone) { try db.addTzif(name: "", tzif: tzif) }
        await assertThrows(.io) { try db.addTzif(name: "Europe/Paris", tzif: Data("garbage".utf8)) }
        await assertThrows(.io) { try db.addTzif(name: "Europe/Paris", tzif: Data()) }
        await assertUnknownZone("zone") { try db.utcOffsetSeconds(zone: paris, at: july) }
    }

    func testFoundationZonesFeedAnInMemoryDatabase() throws {
        let db = try ZoneDatabase.foundation(zones: [paris, tokyo])
        try assertKnowsParisTokyoAndUTC(db)
        try db.addFoundationZone(zone("America/New_York"))
        XCTAssertEqual(try db.utcOffsetSeconds(zone: zone("America/New_York"), at: january), -5 * 3600)
        XCTAssertThrowsError(try db.addFoundationZone(fixedOffsetZone)) { error in
            XCTAssertTrue(error is FoundationZoneError, "\(error)")
        }
        // The default is the device's own zone.
        let current = try ZoneDatabase.foundation()
        XCTAssertNoThrow(try current.utcOffsetSeconds(zone: TimeZone.current, at: july))
    }

    /// The databases without TZif files of their own hold UTC. Foundation
    /// names UTC `GMT` (`TimeZone(identifier: "UTC")`, `TimeZone(secondsFromGMT: 0)`,
    /// on Apple platforms and Linux alike), and the core's own UTC answers
    /// to every IANA name of UTC, Foundation's `GMT` among them.
    func testTheBuiltInUTCAnswersToFoundationsUTC() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tzdata-empty")
        try androidTzdata(zones: []).write(to: file)
        let databases = [
            ("inMemory", try ZoneDatabase.inMemory()),
            ("an empty directory", try ZoneDatabase.directory(path: folder.path)),
            ("an empty tzdata", try ZoneDatabase.androidTzdata(path: file.path)),
        ]
        XCTAssertEqual(utcZone.identifier, "GMT", "Foundation's name for UTC")
        for (name, db) in databases {
            XCTAssertTrue(db.contains(zone: utcZone), name)
            XCTAssertEqual(try db.utcOffsetSeconds(zone: utcZone, at: july), 0, name)
        }
    }

    /// A new, empty temporary folder.
    private func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-zones-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Android's concatenated layout: "tzdata" + version + NUL, big-endian
    /// offsets of index, data and end, 52-byte index entries (40-byte name,
    /// offset, length, unused), then the TZif files.
    private func androidTzdata(zones: [String]) throws -> Data {
        let blobs = try zones.map { try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/\($0)")) }
        func be(_ n: Int) -> Data { withUnsafeBytes(of: UInt32(n).bigEndian) { Data($0) } }
        let indexOffset = 24
        let dataOffset = indexOffset + 52 * zones.count
        var index = Data()
        var data = Data()
        for (name, blob) in zip(zones, blobs) {
            var field = Data(name.utf8)
            field.append(Data(count: 40 - field.count))
            index.append(field)
            index.append(be(data.count))
            index.append(be(blob.count))
            index.append(be(0))
            data.append(blob)
        }
        var file = Data("tzdata2026a\u{0}".utf8)
        file.append(be(indexOffset))
        file.append(be(dataOffset))
        file.append(be(dataOffset + data.count))
        file.append(index)
        file.append(data)
        return file
    }
}
