// Needs the server (Foundation.Process): Linux and macOS only (not the iOS simulator).
#if os(Linux) || os(macOS)
import Cairn
import CairnKit
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// ClinicSyncRunner against the real `cairn-clinic serve` (one per test, on
/// 127.0.0.1, killed after it): two phones of one patient, the sharing
/// manifest, each sync error from a real exchange, conflicts, the audit log,
/// the records the clinic sets (trackers, reminder plans, sessions, the
/// safety plan) merging with the patient's edits, and a flag the clinic
/// acknowledges.
final class ClinicSyncTests: JournalTestCase {
    private var server: ClinicServer!
    private let sharing: [SharingCategory] = [.ratings, .notes]

    override func setUpWithError() throws {
        try super.setUpWithError()
        let server = try ClinicServer()
        self.server = server
        addTeardownBlock { server.stop() }
    }

    /// A new journal (a phone) and its ClinicSync; closed after the test.
    private func phone(_ name: String) async throws -> (Journal, ClinicSync) {
        let journal = try await makeJournal("\(name).cairn")
        return (journal, try journal.sync())
    }

    private func notes(_ journal: Journal) async throws -> [String] {
        try await allEntries(journal).compactMap(\.note).sorted()
    }

    private func allEntries(_ journal: Journal) async throws -> [Entry] {
        var out: [Entry] = []
        var after: String? = nil
        repeat {
            let page = try await journal.entries(query: EntryQuery(after: after))
            out += page.entries
            after = page.next
        } while after != nil
        return out
    }

    func testTwoPhonesOfOnePatientConverge() async throws {
        let (a, syncA) = try await phone("a")
        let (b, syncB) = try await phone("b")
        // Logged before enrolling: sent at enrollment too.
        _ = try await a.log(entry: moodEntry(4, note: "a before enrolling"))
        let enrolled = try await ClinicSyncRunner.enroll(syncA, code: try server.enrollmentCode("pat"), sharing: sharing)
        XCTAssertEqual(enrolled.sent, 1, "\(enrolled)")
        try await ClinicSyncRunner.enroll(syncB, code: try server.enrollmentCode("pat"), sharing: sharing)
        let statusA = try await syncA.status()
        let statusB = try await syncB.status()
        XCTAssertEqual(statusA.enrollment, .active)
        XCTAssertEqual(statusB.enrollment, .active)
        XCTAssertEqual(statusA.patientId, statusB.patientId)
        XCTAssertFalse(statusA.patientId.isEmpty)

        for i in 1...3 {
            _ = try await a.log(entry: moodEntry(Double(i), at: rightNow().shifted(-60 * Double(i)), note: "a \(i)"))
            _ = try await b.log(entry: moodEntry(Double(i + 3), at: rightNow().shifted(-30 * Double(i)), note: "b \(i)"))
        }
        for _ in 0..<2 {
            try await ClinicSyncRunner.syncNow(syncA)
            try await ClinicSyncRunner.syncNow(syncB)
        }

        let all = ["a 1", "a 2", "a 3", "a before enrolling", "b 1", "b 2", "b 3"]
        let notesA = try await notes(a)
        let notesB = try await notes(b)
        XCTAssertEqual(notesA, all)
        XCTAssertEqual(notesB, all)
        let idsA = Set(try await allEntries(a).map(\.id))
        let idsB = Set(try await allEntries(b).map(\.id))
        XCTAssertEqual(idsA, idsB)
        let pendingA = try await syncA.status().pending
        let pendingB = try await syncB.status().pending
        XCTAssertEqual(pendingA, 0)
        XCTAssertEqual(pendingB, 0)
        let after = try await syncA.status()
        XCTAssertNotNil(after.lastSync)
        XCTAssertNil(after.lastError)

        let clinic = try server.entries("pat")
        XCTAssertEqual(clinic.compactMap { $0["note"] as? String }.sorted(), all, "each note once at the clinic")
        XCTAssertEqual(Set(clinic.compactMap { $0["id"] as? String }), Set(idsA.map(\.value)))

        // Nothing new: one round, nothing sent or pulled.
        let idle = try await ClinicSyncRunner.syncNow(syncA)
        XCTAssertEqual(idle, SyncSummary(rounds: 1, acknowledged: idle.acknowledged))
    }

    func testSharingManifestAndNotesTurnedOff() async throws {
        let (journal, sync) = try await phone("a")
        try await ClinicSyncRunner.enroll(sync, code: try server.enrollmentCode("pat"), sharing: sharing)

        let manifest = try await sync.manifest()
        let every: [SharingCategory] = [
            .ratings, .notes, .journal, .medication, .questionnaires, .flags, .reminders, .treatment, .safetyPlan,
        ]
        XCTAssertEqual(manifest.items.map(\.category), every, "every category, once")
        XCTAssertEqual(Set(manifest.items.filter(\.shared).map(\.category)), [.ratings, .notes])
        XCTAssertTrue(manifest.items.allSatisfy { !$0.description.isEmpty })
        XCTAssertFalse(manifest.notes.isEmpty)
        XCTAssertTrue(manifest.notes.allSatisfy { !$0.isEmpty })
        XCTAssertEqual(manifest.status.enrollment, .active)

        let shared = try await journal.log(entry: moodEntry(6, note: "shared note"))
        try await ClinicSyncRunner.syncNow(sync)
        try await sync.setSharing(category: .notes, on: false)
        let after = try await sync.manifest()
        XCTAssertEqual(after.items.first { $0.category == .notes }?.shared, false)
        XCTAssertEqual(after.items.first { $0.category == .ratings }?.shared, true)
        XCTAssertFalse(after.notes.isEmpty)
        let sharingNow = try await sync.status().sharing
        XCTAssertEqual(sharingNow, [.ratings])

        let withheld = try await journal.log(entry: moodEntry(3, note: "not for the clinic"))
        try await ClinicSyncRunner.syncNow(sync)

        let clinic = Dictionary(uniqueKeysWithValues: try server.entries("pat").map { ($0["id"] as! String, $0) })
        XCTAssertEqual(clinic[shared.id.value]?["note"] as? String, "shared note", "what the clinic received stays")
        let entry = try XCTUnwrap(clinic[withheld.id.value], "the entry reaches the clinic")
        XCTAssertEqual(entry["value"] as? Double, 3)
        XCTAssertNil(entry["note"] as? String, "its note does not")
        XCTAssertFalse(try server.entriesJSON("pat").contains("not for the clinic"))
        let kept = try await journal.entry(id: withheld.id)
        XCTAssertEqual(kept.note, "not for the clinic", "it stays on the phone")
        let log = try await sync.log(limit: 10)
        XCTAssertTrue(log.contains { $0.event == "sharing" && $0.detail == "notes off" }, "\(log)")
    }

    func testTypedErrorsOneByOne() async throws {
        let code = try server.enrollmentCode("pat")
        XCTAssertEqual(try checkEnrollmentCode(code: code), server.url)
        // A typo: one character of the code changed.
        var chars = Array(code)
        let at = chars.count / 2
        chars[at] = chars[at] == "A" ? "B" : "A"
        await assertInvalid("code") { try checkEnrollmentCode(code: String(chars)) }

        let (a, syncA) = try await phone("a")
        await assertSync(.notEnrolled) { try await syncA.status() }
        await assertSync(.notEnrolled) { try await ClinicSyncRunner.syncNow(syncA) }

        try await ClinicSyncRunner.enroll(syncA, code: code, sharing: sharing)
        let another = try server.enrollmentCode("pat")
        await assertSync(.alreadyEnrolled) { try await syncA.enroll(code: another, sharing: self.sharing) }

        // The same code from a second phone.
        let (_, syncB) = try await phone("b")
        await assertSync(.enrollmentUsed) { try await ClinicSyncRunner.enroll(syncB, code: code, sharing: self.sharing) }
        let pendingB = try await syncB.status().enrollment
        XCTAssertEqual(pendingB, .pending)
        // A code whose secret is wrong (its checksum made right again).
        let forged = try forgeSecret(try server.enrollmentCode("pat"))
        XCTAssertEqual(try checkEnrollmentCode(code: forged), server.url)
        await assertSync(.enrollmentRevoked) { try await ClinicSyncRunner.enroll(syncB, code: forged, sharing: self.sharing) }
        // A new code works.
        try await ClinicSyncRunner.enroll(syncB, code: try server.enrollmentCode("pat"), sharing: sharing)
        let activeB = try await syncB.status().enrollment
        XCTAssertEqual(activeB, .active)

        // Garbage for a reply: nothing applied.
        _ = try await a.log(entry: moodEntry(5, note: "tell nobody"))
        let pending = try await syncA.status().pending
        XCTAssertEqual(pending, 1)
        let request = try await XCTUnwrapAsync(try await syncA.prepare())
        let bad = await assertSync(.badReply) {
            try await syncA.receive(requestId: request.requestId, reply: Data("<html>captive portal</html>".utf8))
        }
        if case let .badReply(reason)? = bad { XCTAssertFalse(reason.isEmpty) }
        let stillPending = try await syncA.status().pending
        XCTAssertEqual(stillPending, pending)
        XCTAssertEqual(ClinicSyncRunner.failureAction(for: bad!), .retry)

        // A reply to a request the journal is not waiting for.
        await assertSync(.staleReply) { try await syncA.receive(requestId: String(repeating: "0", count: 32), reply: Data(count: 10)) }
        await assertSync(.staleReply) { try await syncA.receive(requestId: request.requestId, reply: Data(count: 10)) }

        // The same request sent twice: the second reply is the clinic's `replayed`.
        let again = try await XCTUnwrapAsync(try await syncA.prepare())
        _ = try await post(again)
        let second = try await post(again)
        let replayed = await assertSync(.syncRefused) { try await syncA.receive(requestId: again.requestId, reply: second) }
        XCTAssertEqual(replayed, .syncRefused(reason: "replayed"))
        // The runner sends again by itself; the entry reaches the clinic once.
        try await ClinicSyncRunner.syncNow(syncA)
        let none = try await syncA.status().pending
        XCTAssertEqual(none, 0)
        XCTAssertEqual(try server.entries("pat").compactMap { $0["note"] as? String }, ["tell nobody"])

        // Revoked by the clinic.
        try server.revoke(try await syncA.status().deviceId)
        _ = try await a.log(entry: moodEntry(2))
        let revoked = await assertSync(.deviceRevoked) { try await ClinicSyncRunner.syncNow(syncA) }
        let stateA = try await syncA.status().enrollment
        XCTAssertEqual(stateA, .revoked)
        XCTAssertEqual(ClinicSyncRunner.failureAction(for: revoked!), .stop)
        await assertSync(.deviceRevoked) { try await ClinicSyncRunner.syncNow(syncA) }

        // The patient withdraws on the other phone.
        try await ClinicSyncRunner.withdraw(syncB)
        let stateB = try await syncB.status().enrollment
        XCTAssertEqual(stateB, .withdrawn)
        let notEnrolled = await assertSync(.notEnrolled) { try await ClinicSyncRunner.syncNow(syncB) }
        XCTAssertEqual(ClinicSyncRunner.failureAction(for: notEnrolled!), .stop)
    }

    func testTransportFailuresAreRetryable() async throws {
        let (journal, sync) = try await phone("a")
        try await ClinicSyncRunner.enroll(sync, code: try server.enrollmentCode("pat"), sharing: sharing)
        _ = try await journal.log(entry: moodEntry(5, note: "later"))

        // Nothing listens there (port 9, discard, is closed on loopback here).
        do {
            try await ClinicSyncRunner.syncNow(sync, serverOverride: URL(string: "http://127.0.0.1:9")!)
            XCTFail("expected ClinicUnreachable")
        } catch let error as ClinicUnreachable {
            XCTAssertNil(error.httpStatus)
            XCTAssertEqual(ClinicSyncRunner.failureAction(for: error), .retry)
        }

        // A path the server does not serve: HTTP 404, the body not taken for a reply.
        do {
            try await ClinicSyncRunner.syncNow(sync, serverOverride: URL(string: server.url + "/elsewhere/")!)
            XCTFail("expected ClinicUnreachable")
        } catch let error as ClinicUnreachable {
            XCTAssertEqual(error.httpStatus, 404)
            XCTAssertNil(error.retryAfterSeconds)
            XCTAssertEqual(ClinicSyncRunner.failureAction(for: error), .retry)
            XCTAssertEqual(error.localizedDescription, "the clinic's server answered HTTP 404")
        }

        // A cancelled sync throws CancellationError and loses nothing.
        let cancelled = Task { try await ClinicSyncRunner.syncNow(sync) }
        cancelled.cancel()
        _ = await cancelled.result

        // Nothing was lost: the real server gets it.
        let pending = try await sync.status().pending
        XCTAssertEqual(pending, 1)
        let summary = try await ClinicSyncRunner.syncNow(sync)
        XCTAssertEqual(summary.sent, 1)
        XCTAssertEqual(try server.entries("pat").compactMap { $0["note"] as? String }, ["later"])
        await assertSync(.invalidInput) { try await ClinicSyncRunner.syncNow(sync, maxRounds: 0) }
    }

    func testACancelledSyncStopsWaitingAndLosesNothing() async throws {
        let (journal, sync) = try await phone("a")
        try await ClinicSyncRunner.enroll(sync, code: try server.enrollmentCode("pat"), sharing: sharing)
        _ = try await journal.log(entry: moodEntry(5, note: "after the hang"))
        // A server that takes the request and never answers.
        let silent = try SilentListener()
        defer { silent.stop() }
        let started = Date()
        let work = Task { try await ClinicSyncRunner.syncNow(sync, serverOverride: URL(string: "http://127.0.0.1:\(silent.port)")!) }
        try await Task.sleep(nanoseconds: 300_000_000)
        work.cancel()
        do {
            _ = try await work.value
            XCTFail("expected CancellationError")
        } catch is CancellationError {
        } catch {
            XCTFail("expected CancellationError, got \(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "abandoned at once, not after the timeout")

        let pending = try await sync.status().pending
        XCTAssertEqual(pending, 1)
        let summary = try await ClinicSyncRunner.syncNow(sync)
        XCTAssertEqual(summary.sent, 1)
        XCTAssertEqual(try server.entries("pat").compactMap { $0["note"] as? String }, ["after the hang"])
    }

    func testAnEntryEditedOnBothPhonesIsOneConflictOnBoth() async throws {
        let (a, syncA) = try await phone("a")
        let (b, syncB) = try await phone("b")
        try await ClinicSyncRunner.enroll(syncA, code: try server.enrollmentCode("pat"), sharing: sharing)
        try await ClinicSyncRunner.enroll(syncB, code: try server.enrollmentCode("pat"), sharing: sharing)
        let at = rightNow().shifted(-10 * minute)
        let entry = try await a.log(entry: moodEntry(5, at: at, note: "first"))
        try await ClinicSyncRunner.syncNow(syncA)
        try await ClinicSyncRunner.syncNow(syncB)
        let onB = try await b.entry(id: entry.id)
        XCTAssertEqual(onB.note, "first")

        // Edited on both phones between syncs.
        _ = try await a.updateEntry(id: entry.id, entry: moodEntry(6, at: at, note: "edited on a"))
        _ = try await b.updateEntry(id: entry.id, entry: moodEntry(2, at: at, note: "edited on b"))
        let first = try await ClinicSyncRunner.syncNow(syncA)
        let second = try await ClinicSyncRunner.syncNow(syncB)
        let third = try await ClinicSyncRunner.syncNow(syncA)
        // B meets A's edit, then A meets B's: one conflict version on each.
        XCTAssertEqual([first.conflicts, second.conflicts, third.conflicts], [0, 1, 1])

        let conflictsA = try await syncA.conflicts()
        let conflictsB = try await syncB.conflicts()
        XCTAssertEqual(conflictsA.count, 1, "\(conflictsA)")
        XCTAssertEqual(conflictsA, conflictsB, "the same conflict version on both phones")
        XCTAssertEqual(conflictsA.first?.entryId, entry.id)
        let countA = try await syncA.status().conflicts
        let countB = try await syncB.status().conflicts
        XCTAssertEqual([countA, countB], [1, 1])
        // Both show the same version; the conflict holds the other one.
        let shownA = try await a.entry(id: entry.id)
        let shownB = try await b.entry(id: entry.id)
        XCTAssertEqual(shownA.note, shownB.note)
        XCTAssertEqual(shownA.value, shownB.value)
        let other = try XCTUnwrap(conflictsA.first?.entry)
        XCTAssertEqual(Set([shownA.note, other.note]), ["edited on a", "edited on b"])

        // Editing it again resolves the conflict, on both once synced.
        _ = try await a.updateEntry(id: entry.id, entry: moodEntry(4, at: at, note: "settled"))
        try await ClinicSyncRunner.syncNow(syncA)
        try await ClinicSyncRunner.syncNow(syncB)
        let leftA = try await syncA.conflicts()
        let leftB = try await syncB.conflicts()
        XCTAssertEqual(leftA, [])
        XCTAssertEqual(leftB, [])
        let settled = try await b.entry(id: entry.id)
        XCTAssertEqual(settled.note, "settled")
    }

    func testADeleteAgainstAnEditIsResolvedByKeepingTheEdit() async throws {
        let (a, syncA) = try await phone("a")
        let (b, syncB) = try await phone("b")
        try await ClinicSyncRunner.enroll(syncA, code: try server.enrollmentCode("pat"), sharing: sharing)
        try await ClinicSyncRunner.enroll(syncB, code: try server.enrollmentCode("pat"), sharing: sharing)
        let at = rightNow().shifted(-10 * minute)
        let entry = try await a.log(entry: moodEntry(5, at: at, note: "first"))
        let untouched = try await a.log(entry: moodEntry(7, at: at.shifted(-minute), note: "never in conflict"))
        try await ClinicSyncRunner.syncNow(syncA)
        try await ClinicSyncRunner.syncNow(syncB)
        let onB = try await b.entry(id: entry.id)
        XCTAssertEqual(onB.note, "first")

        // No conflict version: NotFound.
        let none = await assertThrows(.notFound) { try await syncA.resolveConflict(entryId: untouched.id, keepAuthor: nil) }
        if case let .notFound(table, id)? = none {
            XCTAssertEqual(table, "conflicts")
            XCTAssertEqual(id, untouched.id.value)
        }
        await assertThrows(.notFound) { try await syncA.resolveConflict(entryId: entry.id, keepAuthor: nil) }

        // Offline on both phones: A deletes the entry, B edits its note.
        try await a.deleteEntry(id: entry.id)
        _ = try await b.updateEntry(id: entry.id, entry: moodEntry(5, at: at, note: "edited on b"))
        for _ in 0..<2 {
            try await ClinicSyncRunner.syncNow(syncA)
            try await ClinicSyncRunner.syncNow(syncB)
        }

        let conflictsA = try await syncA.conflicts()
        let conflictsB = try await syncB.conflicts()
        XCTAssertEqual(conflictsA.count, 1, "\(conflictsA)")
        XCTAssertEqual(conflictsA, conflictsB, "the same conflict version on both phones")
        let conflict = try XCTUnwrap(conflictsA.first)
        XCTAssertEqual(conflict.entryId, entry.id)
        let deviceA = try await syncA.status().deviceId
        let deviceB = try await syncB.status().deviceId
        // Both phones show the same winner; the conflict holds the other version.
        let shownA = try await entryIfShown(a, entry.id)
        let shownB = try await entryIfShown(b, entry.id)
        let deleteWon = shownA == nil
        XCTAssertEqual(deleteWon, shownB == nil, "the same winner on both phones: \(String(describing: shownA)) / \(String(describing: shownB))")
        if deleteWon {
            XCTAssertEqual(conflict.author, deviceB)
            XCTAssertEqual(conflict.entry?.note, "edited on b")
        } else {
            XCTAssertEqual(shownA?.note, "edited on b")
            XCTAssertEqual(shownB?.note, "edited on b")
            XCTAssertEqual(conflict.author, deviceA)
            XCTAssertNil(conflict.entry, "the conflict version is the delete")
        }

        // Resolved on A, keeping the edit: name its author if it is the
        // conflict version, keep what is shown otherwise.
        let resolved = try await syncA.resolveConflict(entryId: entry.id, keepAuthor: deleteWon ? conflict.author : nil)
        let kept = try XCTUnwrap(resolved, "the edit is kept, not a delete")
        XCTAssertEqual(kept.id, entry.id)
        XCTAssertEqual(kept.note, "edited on b")
        XCTAssertEqual(kept.value, .scale(value: 5))
        let backOnA = try await a.entry(id: entry.id)
        XCTAssertEqual(backOnA, kept, "the entry is back on A")
        let leftOnA = try await syncA.conflicts()
        XCTAssertEqual(leftOnA, [])
        await assertThrows(.notFound) { try await syncA.resolveConflict(entryId: entry.id, keepAuthor: nil) }

        for _ in 0..<2 {
            try await ClinicSyncRunner.syncNow(syncA)
            try await ClinicSyncRunner.syncNow(syncB)
        }
        let afterA = try await syncA.conflicts()
        let afterB = try await syncB.conflicts()
        XCTAssertEqual(afterA, [])
        XCTAssertEqual(afterB, [])
        let countA = try await syncA.status().conflicts
        let countB = try await syncB.status().conflicts
        XCTAssertEqual([countA, countB], [0, 0])
        let finalA = try await a.entry(id: entry.id)
        let finalB = try await b.entry(id: entry.id)
        XCTAssertEqual(finalA.note, "edited on b")
        XCTAssertEqual(finalB.note, "edited on b")
        let notesA = try await notes(a)
        let notesB = try await notes(b)
        XCTAssertEqual(notesA, ["edited on b", "never in conflict"])
        XCTAssertEqual(notesB, ["edited on b", "never in conflict"])
        await assertThrows(.notFound) { try await syncB.resolveConflict(entryId: entry.id, keepAuthor: nil) }

        let clinicJSON = try server.entriesJSON("pat")
        let atClinic = try server.entries("pat").filter { $0["id"] as? String == entry.id.value }
        XCTAssertEqual(atClinic.count, 1, "the entry once at the clinic: \(clinicJSON)")
        XCTAssertEqual(atClinic.first?["note"] as? String, "edited on b")
        XCTAssertEqual(atClinic.first?["value"] as? Double, 5)
    }

    func testTheLogKeepsTheClinicsReceipts() async throws {
        let (journal, sync) = try await phone("a")
        try await ClinicSyncRunner.enroll(sync, code: try server.enrollmentCode("pat"), sharing: sharing)
        _ = try await journal.log(entry: moodEntry(5))
        _ = try await journal.log(entry: moodEntry(6))
        try await ClinicSyncRunner.syncNow(sync)

        let log = try await sync.log(limit: 50)
        XCTAssertFalse(log.isEmpty)
        XCTAssertEqual(log.map(\.at), log.map(\.at).sorted(by: >), "newest first")
        XCTAssertTrue(log.contains { $0.event == "enroll" }, "\(log)")
        let pushes = log.filter { $0.event == "push" }
        XCTAssertFalse(pushes.isEmpty, "\(log)")
        for push in pushes {
            XCTAssertEqual(push.receipt.count, 128, "a signed receipt (64 bytes, hex): \(push.receipt)")
            XCTAssertTrue(push.receipt.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
        XCTAssertEqual(pushes.map(\.acknowledged).max(), 2, "both entries acknowledged")
        XCTAssertGreaterThanOrEqual(pushes.map { Int($0.sent) }.reduce(0, +), 2)
        let one = try await sync.log(limit: 1)
        XCTAssertEqual(one.count, 1)
        await assertInvalid("limit") { try await sync.log(limit: -1) }
    }

    func testWhatTheClinicSetsReachesThePhoneAndSafetyPlanEditsMerge() async throws {
        let (journal, sync) = try await phone("a")
        try await ClinicSyncRunner.enroll(sync, code: try server.enrollmentCode("pat"), sharing: sharing + [.safetyPlan])

        // Between two syncs, the clinic defines a tracker, a routine after
        // each infusion, tomorrow's infusion and three parts of the safety plan.
        let trackerId = try server.command([
            "tracker", "add", "--patient", "pat", "--name", "Dissociation", "--kind", "scale",
            "--min", "0", "--max", "4", "--min-label", "not at all", "--max-label", "completely",
        ])
        let routineId = try server.command([
            "reminder", "add", "--patient", "pat", "--category", "post-session",
            "--after-event", "infusion", "--steps", "30m,1d@09:00", "--title", "Drink water",
        ])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = paris
        let today = calendar.startOfDay(for: Date())
        func parisTime(daysAfterToday days: Int, _ hour: Int) -> Date {
            let day = calendar.date(byAdding: .day, value: days, to: today)!
            return instant(ms: ms(calendar.date(bySettingHour: hour, minute: 0, second: 0, of: day)!))
        }
        let infusionAt = parisTime(daysAfterToday: 1, 10)
        let sessionId = try server.command([
            "session", "add", "--patient", "pat", "--kind", "infusion",
            "--at", ISO8601DateFormatter().string(from: infusionAt), "--zone", "Europe/Paris",
        ])
        for id in [trackerId, routineId, sessionId] {
            XCTAssertTrue(id.count == 32 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, id)
        }
        try server.command(["safety-plan", "set", "--patient", "pat", "--part", "warning-signs", "Not sleeping", "Skipping meals"])
        try server.command(["safety-plan", "set", "--patient", "pat", "--part", "people", "Sam (sister)"])
        try server.command(["safety-plan", "set", "--patient", "pat", "--part", "professionals", "Clinic line 01 23 45 67 89"])

        let first = try await ClinicSyncRunner.syncNow(sync)
        XCTAssertGreaterThan(first.pulled, 0, "\(first)")

        // The tracker, ready to rate on.
        let scale = TrackerKind.scale(min: 0, max: 4, step: 1, minLabel: "not at all", maxLabel: "completely")
        let custom = try await journal.trackers().filter { !$0.builtin }
        XCTAssertEqual(custom, [Tracker(id: TrackerId(trackerId), name: "Dissociation", kind: scale, builtin: false)])
        let byName = try await journal.tracker(idOrName: "Dissociation")
        XCTAssertEqual(byName.id, TrackerId(trackerId))
        let rated = try await journal.log(entry: NewEntry(tracker: "Dissociation", value: .scale(value: 3), at: rightNow(), zone: paris))
        XCTAssertEqual(rated.tracker, TrackerId(trackerId))

        // The routine and the session it follows.
        let reminders = try journal.reminders()
        let rules = try await reminders.list()
        XCTAssertEqual(rules.corrupted, [])
        XCTAssertEqual(rules.reminders.count, 1, "\(rules.reminders)")
        let routine = try XCTUnwrap(rules.reminders.first)
        XCTAssertEqual(routine.id, ReminderId(routineId))
        XCTAssertEqual(routine.category, .postSession)
        XCTAssertEqual(routine.schedule, .afterEvent(event: "infusion", steps: [.after(minutes: 30), .dayAt(day: 1, time: wallTime("09:00"))]))
        XCTAssertEqual(routine.title, "Drink water")
        XCTAssertTrue(routine.enabled)
        XCTAssertNil(routine.zone, "it follows the phone's zone")
        let events = try await reminders.events()
        XCTAssertEqual(events, [ReminderEvent(id: EventId(sessionId), kind: "infusion", at: infusionAt, zone: paris)])
        // The phone plans its notifications from them: 30 minutes after the
        // infusion, then 09:00 the day after.
        let planned = try await reminders.plan(now: rightNow(), deviceZone: paris, limits: iosLimits(), horizonDays: 7)
            .notifications.filter { $0.reminderId == routine.id }
        XCTAssertEqual(planned.map(\.fireAt), [infusionAt.shifted(30 * minute), parisTime(daysAfterToday: 2, 9)])

        // The safety plan, part by part.
        let fromClinic = SafetyPlan(
            warningSigns: ["Not sleeping", "Skipping meals"],
            copingStrategies: [],
            distractions: [],
            peopleToAsk: ["Sam (sister)"],
            professionals: ["Clinic line 01 23 45 67 89"],
            safeEnvironment: [],
            reasonsForLiving: []
        )
        let received = try await journal.safetyPlan()
        XCTAssertEqual(received, fromClinic)
        XCTAssertEqual(try server.safetyPlan("pat"), byPart(fromClinic))

        // Before the next sync, the patient adds a warning sign on the phone
        // and the clinic someone to ask: both edits hold, on both sides.
        let onPhone = SafetyPlan(
            warningSigns: received.warningSigns + ["Staying in bed"],
            copingStrategies: received.copingStrategies,
            distractions: received.distractions,
            peopleToAsk: received.peopleToAsk,
            professionals: received.professionals,
            safeEnvironment: received.safeEnvironment,
            reasonsForLiving: received.reasonsForLiving
        )
        let saved = try await journal.setSafetyPlan(plan: onPhone)
        XCTAssertEqual(saved, onPhone)
        try server.command(["safety-plan", "set", "--patient", "pat", "--part", "people", "Sam (sister)", "Crisis line 3114"])
        try await ClinicSyncRunner.syncNow(sync)

        let merged = SafetyPlan(
            warningSigns: ["Not sleeping", "Skipping meals", "Staying in bed"],
            copingStrategies: [],
            distractions: [],
            peopleToAsk: ["Sam (sister)", "Crisis line 3114"],
            professionals: ["Clinic line 01 23 45 67 89"],
            safeEnvironment: [],
            reasonsForLiving: []
        )
        let onPhoneNow = try await journal.safetyPlan()
        XCTAssertEqual(onPhoneNow, merged)
        XCTAssertEqual(try server.safetyPlan("pat"), byPart(merged))
        let pending = try await sync.status().pending
        XCTAssertEqual(pending, 0)
        // The rating on the clinic's tracker reached the clinic.
        let entry = try XCTUnwrap(try server.entries("pat").first { $0["id"] as? String == rated.id.value })
        XCTAssertEqual(entry["tracker"] as? String, trackerId)
        XCTAssertEqual(entry["value"] as? Double, 3)
    }

    func testTheClinicsSettingsReachThePhone() async throws {
        let (journal, sync) = try await phone("a")
        let empty = ClinicSettings(clinicName: nil, reviewWithin: nil, noCheckinDays: nil)
        let before = try await journal.clinicSettings()
        XCTAssertEqual(before, empty)
        try await ClinicSyncRunner.enroll(sync, code: try server.enrollmentCode("pat"), sharing: sharing)
        let unset = try await journal.clinicSettings()
        XCTAssertEqual(unset, empty, "nothing set yet")
        _ = try server.command([
            "settings", "--patient", "pat", "--clinic-name", "Northside Clinic",
            "--review-within", "within 2 working days",
        ])
        let summary = try await ClinicSyncRunner.syncNow(sync)
        XCTAssertGreaterThan(summary.pulled, 0)
        let settings = try await journal.clinicSettings()
        XCTAssertEqual(settings, ClinicSettings(clinicName: "Northside Clinic", reviewWithin: "within 2 working days", noCheckinDays: nil))
        // What the app shows the patient, from them.
        let statement = try monitoringStatement(facts: MonitoringFacts(
            enrolled: true, flagsShared: true, clinic: settings.clinicName, reviewWithin: settings.reviewWithin))
        XCTAssertTrue(statement.whoSees.contains("Northside Clinic"), statement.whoSees)
        XCTAssertTrue(statement.review.contains("within 2 working days"), statement.review)

        // Enrolled, the FHIR Bundle names the clinic's patient.
        _ = try await journal.checkin(questionnaire: "phq9", answers: [0, 0, 0, 0, 0, 0, 0, 0, 0], at: rightNow(), zone: paris)
        let bundle = try await journal.fhirBundle()
        let patientId = try await sync.status().patientId
        XCTAssertFalse(patientId.isEmpty)
        XCTAssertTrue(bundle.json.contains("\"Patient/\(patientId)\""), String(bundle.json.prefix(2000)))
    }

    func testAFlagRaisedOnThePhoneIsAcknowledgedByTheClinic() async throws {
        let (journal, sync) = try await phone("a")
        try await ClinicSyncRunner.enroll(
            sync, code: try server.enrollmentCode("pat"), sharing: sharing + [.questionnaires, .flags])
        let checkIn = try await journal.checkin(
            questionnaire: "phq9", answers: [1, 1, 1, 1, 1, 1, 1, 1, 2], at: rightNow(), zone: paris)
        XCTAssertEqual(checkIn.flags.count, 1)
        let flag = try XCTUnwrap(checkIn.flags.first)
        XCTAssertEqual(flag.state, .open)
        try await ClinicSyncRunner.syncNow(sync)

        let atClinic = try server.flags()
        XCTAssertEqual(atClinic.count, 1, "\(atClinic)")
        let held = try XCTUnwrap(atClinic.first)
        XCTAssertEqual(held["id"] as? String, flag.id.value)
        XCTAssertEqual(held["patient"] as? String, "pat")
        XCTAssertEqual(held["kind"] as? String, "item9_positive")
        XCTAssertEqual(held["reason"] as? String, flag.reason)
        XCTAssertEqual(held["source"] as? String, checkIn.entry.id.value)
        XCTAssertEqual(held["state"] as? String, "open")

        let acked = try server.command(["ack-flag", "--patient", "pat", "--by", "Dr Rivera", flag.id.value])
        XCTAssertEqual(acked, "acknowledged")
        XCTAssertEqual(try server.flags().first?["state"] as? String, "acknowledged")
        // Not on the phone until it syncs.
        let before = try await journal.flags()
        XCTAssertEqual(before.map(\.state), [.open])
        let summary = try await ClinicSyncRunner.syncNow(sync)
        XCTAssertGreaterThan(summary.pulled, 0)

        let after = try await journal.flags()
        XCTAssertEqual(after.count, 1)
        let acknowledged = try XCTUnwrap(after.first)
        XCTAssertEqual(acknowledged.id, flag.id)
        XCTAssertEqual(acknowledged.state, .acknowledged)
        XCTAssertEqual(acknowledged.acknowledgedBy, "Dr Rivera")
        let at = try XCTUnwrap(acknowledged.acknowledgedAt)
        XCTAssertGreaterThanOrEqual(at, flag.raisedAt)
        XCTAssertLessThanOrEqual(at, rightNow().shifted(60))
        XCTAssertEqual(acknowledged.kind, flag.kind)
        XCTAssertEqual(acknowledged.reason, flag.reason)
        XCTAssertEqual(acknowledged.raisedAt, flag.raisedAt)
        XCTAssertEqual(acknowledged.source, flag.source)
        let pending = try await sync.status().pending
        XCTAssertEqual(pending, 0)
        XCTAssertEqual(try server.flags().first?["acknowledged_by"] as? String, "Dr Rivera")
    }

    // MARK: - helpers

    /// The entry `id` as `journal` shows it; nil when it is deleted there (NotFound).
    private func entryIfShown(_ journal: Journal, _ id: EntryId) async throws -> Entry? {
        do {
            return try await journal.entry(id: id)
        } catch CairnError.notFound {
            return nil
        }
    }

    /// The plan's parts by the names `safety-plan show --json` gives them.
    private func byPart(_ plan: SafetyPlan) -> [String: [String]] {
        [
            "warning_signs": plan.warningSigns,
            "coping_strategies": plan.copingStrategies,
            "distractions": plan.distractions,
            "people_to_ask": plan.peopleToAsk,
            "professionals": plan.professionals,
            "safe_environment": plan.safeEnvironment,
            "reasons_for_living": plan.reasonsForLiving,
        ]
    }

    /// Asserts that `body` throws a `CairnError` of `kind` whose sentence is
    /// plain and holds none of the patient's words.
    @discardableResult
    private func assertSync<T>(
        _ kind: ErrorKind, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
    ) async -> CairnError? {
        let error = await assertThrows(kind, file: file, line: line, body)
        if let error {
            let text = error.localizedDescription
            XCTAssertFalse(text.isEmpty, file: file, line: line)
            for dump in ["(reason:", "CairnError", "(retryAfterSeconds:"] {
                XCTAssertFalse(text.contains(dump), "a debug dump: \(text)", file: file, line: line)
            }
            for words in ["tell nobody", "captive portal"] {
                XCTAssertFalse(text.contains(words), "patient text in \(text)", file: file, line: line)
            }
        }
        return error
    }

    /// POSTs a request's bytes as they are; the reply's bytes (HTTP 200).
    private func post(_ request: SyncRequest) async throws -> Data {
        var http = URLRequest(url: URL(string: request.url)!)
        http.httpMethod = "POST"
        http.setValue(request.contentType, forHTTPHeaderField: "Content-Type")
        http.httpBody = request.body
        let result: Result<(Data, URLResponse), any Error> = await withCheckedContinuation { continuation in
            URLSession.shared.dataTask(with: http) { data, response, error in
                if let error {
                    continuation.resume(returning: .failure(error))
                } else {
                    continuation.resume(returning: .success((data ?? Data(), response!)))
                }
            }.resume()
        }
        let (data, response) = try result.get()
        XCTAssertEqual((response as? HTTPURLResponse)?.statusCode, 200)
        return data
    }

    /// `code` with one byte of its one-time secret changed and its checksum
    /// (the first 4 bytes of SHA-256 of the rest) made right again: a code
    /// that reads well and whose proof the clinic refuses.
    private func forgeSecret(_ code: String) throws -> String {
        let prefix = "CAIRN1"
        var bytes = try base32Decode(String(code.dropFirst(prefix.count)))
        bytes.removeLast(4)
        bytes[33] ^= 0x01  // version (1) || clinic id (16) || enrollment id (16) || secret (16) ...
        let hex = FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum")
            ? try runCommand("/usr/bin/sha256sum", ["-b", "-"], input: Data(bytes))
            : try runCommand("/usr/bin/shasum", ["-a", "256", "-b", "-"], input: Data(bytes))
        var sum: [UInt8] = []
        var digits = Substring(hex)
        for _ in 0..<4 {
            sum.append(UInt8(digits.prefix(2), radix: 16)!)
            digits = digits.dropFirst(2)
        }
        return prefix + base32Encode(bytes + sum)
    }

    private let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    private func base32Decode(_ text: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in text {
            guard let v = alphabet.firstIndex(of: c) else { throw ServerError("not base32: \(c)") }
            acc = (acc << 5) | UInt32(v)
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xff))
            }
            acc &= (1 << UInt32(bits)) - 1
        }
        return out
    }

    private func base32Encode(_ bytes: [UInt8]) -> String {
        var out = ""
        var acc: UInt32 = 0
        var bits = 0
        for b in bytes {
            acc = (acc << 8) | UInt32(b)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int((acc >> UInt32(bits)) & 31)])
            }
            acc &= (1 << UInt32(bits)) - 1
        }
        if bits > 0 { out.append(alphabet[Int((acc << UInt32(5 - bits)) & 31)]) }
        return out
    }
}

/// `XCTUnwrap` for an async expression.
func XCTUnwrapAsync<T>(
    _ expression: @autoclosure () async throws -> T?, file: StaticString = #filePath, line: UInt = #line
) async throws -> T {
    let value = try await expression()
    return try XCTUnwrap(value, file: file, line: line)
}
#endif
