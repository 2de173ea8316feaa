// The Swift halves of Cairn's typed values (bindings/src/values.rs and
// bindings/uniffi.toml): the id types, the weekday, the conversions of local
// days and wall-clock times to and from DateComponents, and CairnError's
// LocalizedError. Hand-written; the generated Cairn.swift beside it calls
// the conversions.
import Foundation

/// A record's id: its text, typed by the kind of record (`Kind`) so that an
/// entry's id cannot be passed where a reminder's is expected.
public struct CairnId<Kind>: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The id's text.
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { value }
}

/// The kinds of `CairnId`.
public enum EntryIdTag {}
public enum TrackerIdTag {}
public enum ReminderIdTag {}
public enum EventIdTag {}
public enum FlagIdTag {}

/// An entry's id (32 hex characters).
public typealias EntryId = CairnId<EntryIdTag>
/// A tracker's id: a word for built-ins (`mood`), 32 hex characters for
/// custom trackers.
public typealias TrackerId = CairnId<TrackerIdTag>
/// A reminder rule's id.
public typealias ReminderId = CairnId<ReminderIdTag>
/// A recorded event's id (a treatment session).
public typealias EventId = CairnId<EventIdTag>
/// A risk flag's id (32 hex characters).
public typealias FlagId = CairnId<FlagIdTag>

/// A day of the week, numbered as ISO 8601 does (Monday is 1). Convert
/// from `Calendar.component(.weekday, from:)` (Sunday is 1 there) with
/// `Weekday(gregorianWeekday:)`.
public enum Weekday: Int32, Hashable, Sendable, CaseIterable, Codable {
    case monday = 1, tuesday, wednesday, thursday, friday, saturday, sunday

    /// From Foundation's Gregorian weekday number (1 = Sunday ... 7 = Saturday).
    public init?(gregorianWeekday n: Int) {
        guard (1...7).contains(n) else { return nil }
        self.init(rawValue: Int32((n + 5) % 7 + 1))
    }

    /// Foundation's Gregorian weekday number (1 = Sunday ... 7 = Saturday).
    public var gregorianWeekday: Int { Int(rawValue) % 7 + 1 }

    init(cairnIsoNumber n: Int32) {
        // The core only ever sends 1...7.
        self = Weekday(rawValue: n) ?? .monday
    }
}

extension Date {
    /// Microseconds since 1970, as the core receives instants (it rounds
    /// them to whole milliseconds); a Date beyond ±292,000 years is clamped
    /// and the core refuses it with `CairnError.invalidInput`.
    var cairnMicroseconds: Int64 {
        let us = (timeIntervalSince1970 * 1_000_000).rounded()
        guard us.isFinite else { return Int64.min }
        if us >= 9.2e18 { return Int64.max }
        if us <= -9.2e18 { return Int64.min }
        return Int64(us)
    }
}

extension DateComponents {
    /// A local day (year, month, day) from days since 1970-01-01.
    init(cairnEpochDay days: Int64) {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.init(year: Int(y), month: Int(m), day: Int(d))
    }

    /// Days since 1970-01-01 of `year`, `month` and `day`; a day that is
    /// missing or not on the calendar gives a value the core refuses with
    /// `CairnError.invalidInput` naming the field.
    var cairnEpochDay: Int64 {
        guard let year = self.year, let month = self.month, let day = self.day,
              (1...12).contains(month), day >= 1, day <= DateComponents.daysIn(month, of: year),
              abs(year) < 1_000_000
        else { return Int64.min }
        // Howard Hinnant's days_from_civil.
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// A wall-clock time (hour, minute) from seconds since midnight.
    init(cairnSecondOfDay s: Int32) {
        self.init(hour: Int(s / 3600), minute: Int(s % 3600 / 60))
    }

    /// Seconds since midnight of `hour`, `minute` and `second`; a time
    /// without an hour, or out of range, gives a value the core refuses.
    var cairnSecondOfDay: Int32 {
        let minute: Int = self.minute ?? 0
        let second: Int = self.second ?? 0
        guard let hour = self.hour, (0..<24).contains(hour),
              (0..<60).contains(minute), (0..<60).contains(second)
        else { return -1 }
        // A fraction of a second is sent as not whole minutes (refused),
        // never silently dropped.
        let fraction: Int = second == 0 && (self.nanosecond ?? 0) != 0 ? 1 : 0
        let seconds: Int = hour * 3600 + minute * 60 + second + fraction
        return Int32(seconds)
    }
}

extension TimeZone {
    /// The zone the core names; Foundation has every zone the platform's
    /// database has, and the core reads that same database. A name
    /// Foundation lacks (a newer database on one side) reads as UTC: the
    /// record's `utcOffsetSeconds` stays exact.
    init(cairnIdentifier name: String) {
        self = TimeZone(identifier: name) ?? TimeZone(secondsFromGMT: 0)!
    }
}

extension CairnError: LocalizedError {
    /// The plain sentence (no patient content), never a debug dump.
    public var errorDescription: String? { description }
}

// Records with an id are Identifiable, for SwiftUI's List and ForEach.
extension Entry: Identifiable {}
extension Tracker: Identifiable {}
extension Reminder: Identifiable {}
extension ReminderEvent: Identifiable {}
extension PlannedNotification: Identifiable {}
extension Flag: Identifiable {}
extension Questionnaire: Identifiable {}

// `print(error)` and string interpolation show the plain sentence too (the
// generated enum has `description` without declaring the conformance).
extension CairnError: CustomStringConvertible {}
