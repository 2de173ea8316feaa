import Cairn
import CairnKit
import Foundation
import XCTest

final class ZoneDatabaseTests: XCTestCase {
    // 2026-01-15T12:00Z (winter in Paris) and 2026-07-15T12:00Z (summer).
    let january: Int64 = 1_768_478_400_000
    let july: Int64 = 1_784_116_800_000

    private func assertKnowsParisTokyoAndUTC(_ db: ZoneDatabase, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "Europe/Paris", atMs: january), 3600, file: file, line: line)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "Europe/Paris", atMs: july), 7200, file: file, line: line)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "Asia/Tokyo", atMs: july), 9 * 3600, file: file, line: line)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "UTC", atMs: july), 0, file: file, line: line)
    }

    func testSystemDatabaseFollowsDaylightSaving() throws {
        try assertKnowsParisTokyoAndUTC(ZoneDatabase.system())
    }

    func testSystemDatabaseAgreesWithFoundation() throws {
        let db = try ZoneDatabase.system()
        let now = nowMs()
        for id in ["Europe/Paris", "Asia/Tokyo", "UTC", "America/New_York"] {
            let expected = TimeZone(identifier: id)!.secondsFromGMT(
                for: Date(timeIntervalSince1970: Double(now) / 1000))
            XCTAssertEqual(try db.utcOffsetSeconds(zone: id, atMs: now), Int32(expected), id)
        }
    }

    func testDirectoryDatabaseReadsTzifFiles() throws {
        try assertKnowsParisTokyoAndUTC(ZoneDatabase.directory(path: "/usr/share/zoneinfo"))

        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = try ZoneDatabase.directory(path: folder.path)
        XCTAssertEqual(try empty.utcOffsetSeconds(zone: "UTC", atMs: july), 0)
        assertThrows(.invalidInput) { try empty.utcOffsetSeconds(zone: "Europe/Paris", atMs: july) }
    }

    func testDirectoryDatabaseNeedsAFolder() throws {
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
            let error = assertThrows(.invalidInput, path) { try ZoneDatabase.directory(path: path) }
            if case let .InvalidInput(message)? = error, !path.isEmpty {
                XCTAssertFalse(message.contains(path), message)
                XCTAssertFalse(message.contains("my-secret-zones"), message)
            }
        }
    }

    func testUnknownZonesAreInvalidInput() throws {
        let db = try ZoneDatabase.system()
        for zone in ["Mars/Base", "", "../etc/passwd", "Europe", "Europe/Paris\u{0}", String(repeating: "A", count: 10_000)] {
            assertThrows(.invalidInput, zone.prefix(20).description) {
                try db.utcOffsetSeconds(zone: zone, atMs: july)
            }
        }
    }

    func testAndroidTzdataFileIsRead() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tzdata")
        try androidTzdata(zones: ["Asia/Tokyo", "Europe/Paris"]).write(to: file)

        let db = try ZoneDatabase.androidTzdata(path: file.path)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "Asia/Tokyo", atMs: july), 9 * 3600)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "Europe/Paris", atMs: january), 3600)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "UTC", atMs: july), 0)
        assertThrows(.invalidInput) { try db.utcOffsetSeconds(zone: "America/New_York", atMs: july) }

        // A well-formed file without any zone is accepted (UTC only).
        let empty = folder.appendingPathComponent("tzdata-empty")
        try androidTzdata(zones: []).write(to: empty)
        let none = try ZoneDatabase.androidTzdata(path: empty.path)
        XCTAssertEqual(try none.utcOffsetSeconds(zone: "UTC", atMs: july), 0)
        assertThrows(.invalidInput) { try none.utcOffsetSeconds(zone: "Asia/Tokyo", atMs: july) }
    }

    func testAndroidTzdataIsCheckedWhenTheDatabaseIsMade() throws {
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
            assertThrows(.storage, path) { try ZoneDatabase.androidTzdata(path: path) }
        }
    }

    func testInMemoryDatabaseKnowsOnlyUTCAndAddedZones() throws {
        let db = try ZoneDatabase.inMemory()
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "UTC", atMs: july), 0)
        assertThrows(.invalidInput) { try db.utcOffsetSeconds(zone: "Asia/Tokyo", atMs: july) }

        let tokyo = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Asia/Tokyo"))
        try db.addTzif(name: "Asia/Tokyo", tzif: tokyo)
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "Asia/Tokyo", atMs: july), 9 * 3600)
    }

    func testAddTzifRefusesBadNamesAndBadData() throws {
        let db = try ZoneDatabase.inMemory()
        let paris = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Europe/Paris"))
        assertThrows(.invalidInput) { try db.addTzif(name: "../Paris", tzif: paris) }
        assertThrows(.invalidInput) { try db.addTzif(name: "", tzif: paris) }
        assertThrows(.storage) { try db.addTzif(name: "Europe/Paris", tzif: Data("garbage".utf8)) }
        assertThrows(.storage) { try db.addTzif(name: "Europe/Paris", tzif: Data()) }
        assertThrows(.invalidInput) { try db.utcOffsetSeconds(zone: "Europe/Paris", atMs: july) }
    }

    func testFoundationZonesFeedAnInMemoryDatabase() throws {
        let db = try ZoneDatabase.foundation(zones: ["Europe/Paris", "Asia/Tokyo"])
        try assertKnowsParisTokyoAndUTC(db)
        try db.addFoundationZone("America/New_York")
        XCTAssertEqual(try db.utcOffsetSeconds(zone: "America/New_York", atMs: january), -5 * 3600)
        XCTAssertThrowsError(try db.addFoundationZone("Mars/Base")) { error in
            XCTAssertEqual(error as? FoundationZoneError, .unknownZone("Mars/Base"))
        }
        // The default is the device's own zone.
        let current = try ZoneDatabase.foundation()
        XCTAssertNoThrow(try current.utcOffsetSeconds(zone: TimeZone.current.identifier, atMs: july))
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
