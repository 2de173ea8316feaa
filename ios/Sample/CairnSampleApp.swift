// A minimal SwiftUI app: opens the journal off the main thread with a key
// kept in the Keychain, and logs a mood entry. See ios/README.md, "The
// sample app", to run it.
import Cairn
import CairnKit
import os
import SwiftUI

@main
struct CairnSampleApp: App {
    @StateObject private var model = JournalModel()

    var body: some Scene {
        WindowGroup {
            VStack(spacing: 16) {
                Text(model.status)
                Slider(value: $model.mood, in: 0...10, step: 1) { Text("Mood") }
                Text("Mood: \(Int(model.mood))")
                Button("Log mood") { Task { await model.logMood() } }
                    .disabled(!model.isOpen)
            }
            .padding()
            .task { await model.open() }
        }
    }
}

@MainActor
final class JournalModel: ObservableObject {
    @Published var status = "Opening the journal…"
    @Published var mood = 5.0
    @Published private(set) var isOpen = false
    private var journal: Journal?
    // Log ids and error kinds only: never the patient's entries.
    private let logger = Logger(subsystem: "app.cairn.sample", category: "journal")

    nonisolated private static var journalPath: String {
        let folder = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("journal.cairn").path
    }

    func open() async {
        guard journal == nil else { return }
        do {
            // Keychain and disk I/O: off the main thread.
            let journal = try await Task.detached(priority: .userInitiated) {
                try Journal.openOrCreate(path: Self.journalPath, keys: KeychainKeyProvider())
            }.value
            self.journal = journal
            isOpen = true
            status = "Journal open (Cairn \((try? coreVersion()) ?? "?"))"
        } catch KeyProviderError.keyMissingForExistingJournal {
            // The phone was restored from another one's backup: see ios/README.md,
            // "When the key is lost", for what to tell the patient and Journal.setAside.
            status = "The journal on this phone can't be unlocked."
        } catch KeyProviderError.unavailableUntilFirstUnlock {
            status = "Unlock the device to open the journal."
        } catch {
            logger.error("opening the journal failed: \(String(describing: error), privacy: .public)")
            status = "The journal could not be opened."
        }
    }

    func logMood() async {
        guard let journal else { return }
        let entry = NewEntry(
            tracker: "mood",
            value: .scale(value: mood),
            atMs: Int64(Date().timeIntervalSince1970 * 1000),
            zone: TimeZone.current.identifier)
        do {
            let saved = try await Task.detached { try journal.log(entry: entry) }.value
            logger.info("logged entry \(saved.id, privacy: .public)")
            status = "Logged mood \(Int(mood)) for \(saved.localDate)"
        } catch {
            logger.error("logging failed: \(String(describing: error), privacy: .public)")
            status = "The entry could not be saved."
        }
    }
}
