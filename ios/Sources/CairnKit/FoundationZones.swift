import Cairn
import Foundation

/// Why Foundation's data for a zone could not be handed to Cairn.
public enum FoundationZoneError: Error, Equatable, Sendable {
    /// Foundation knows no zone with this identifier.
    case unknownZone(String)
    /// Foundation gave no TZif data for it on this platform (a zone made
    /// from a fixed offset, `TimeZone(secondsFromGMT:)`, has none).
    case noTzifData(String)
}

extension ZoneDatabase {
    /// A database holding `zones` (by default the device's current zone) and
    /// UTC, with Foundation's rules for them: the route when
    /// ``ZoneDatabase/system()`` cannot read the platform's zoneinfo files.
    ///
    /// UTC is there under Foundation's name for it too: `TimeZone(identifier:
    /// "UTC")` and `TimeZone(secondsFromGMT: 0)` are both named `GMT`.
    public static func foundation(zones: [TimeZone] = [TimeZone.current]) throws -> ZoneDatabase {
        let db = try ZoneDatabase.inMemory()
        for zone in [TimeZone(secondsFromGMT: 0)!] + zones {
            try db.addFoundationZone(zone)
        }
        return db
    }

    /// Adds (or replaces) `zone` with Foundation's TZif data for it. Throws
    /// ``FoundationZoneError``, or `CairnError` if the data does not parse.
    public func addFoundationZone(_ zone: TimeZone) throws {
        let identifier = zone.identifier
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
