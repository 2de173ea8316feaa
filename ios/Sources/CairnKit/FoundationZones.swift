import Cairn
import Foundation

/// Why Foundation's data for a zone could not be handed to Cairn.
public enum FoundationZoneError: Error, Equatable, Sendable {
    /// Foundation knows no zone with this identifier.
    case unknownZone(String)
    /// Foundation gave no TZif data for it on this platform.
    case noTzifData(String)
}

extension ZoneDatabase {
    /// A database holding `identifiers` (by default the device's current
    /// zone) and UTC, with Foundation's rules for them: the route when
    /// ``ZoneDatabase/system()`` cannot read the platform's zoneinfo files.
    public static func foundation(
        zones identifiers: [String] = [TimeZone.current.identifier]
    ) throws -> ZoneDatabase {
        let db = try ZoneDatabase.inMemory()
        for id in identifiers {
            try db.addFoundationZone(id)
        }
        return db
    }

    /// Adds (or replaces) the zone `identifier` with Foundation's TZif data.
    /// Throws ``FoundationZoneError``, or `CairnError` if the data does not parse.
    public func addFoundationZone(_ identifier: String) throws {
        guard TimeZone(identifier: identifier) != nil else {
            throw FoundationZoneError.unknownZone(identifier)
        }
        guard let tzif = Self.foundationTzif(identifier) else {
            throw FoundationZoneError.noTzifData(identifier)
        }
        try addTzif(name: identifier, tzif: tzif)
    }

    /// `TimeZone` has no TZif accessor; `NSTimeZone.data` is one on Apple
    /// platforms and in swift-corelibs-foundation. Anything but TZif bytes
    /// (an empty `Data` where unsupported) counts as none.
    private static func foundationTzif(_ identifier: String) -> Data? {
        #if canImport(Darwin) || os(Linux)
        guard let data = NSTimeZone(name: identifier)?.data,
              data.starts(with: Array("TZif".utf8))
        else { return nil }
        return data
        #else
        return nil
        #endif
    }
}
