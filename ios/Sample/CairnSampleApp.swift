// A minimal SwiftUI app: opens the journal with a key kept in the Keychain,
// lists the latest mood entries as they change, and logs a mood entry. Every
// call is awaited on the main actor; the journal works on its own threads, so
// none blocks the UI. See ios/README.md, "The sample app", to run it.
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
                    .disabled(model.journal == nil)
                List(model.entries) { entry in
                    HStack {
                        Text(entry.at, style: .time)
                        Spacer()
                        if case let .scale(value) = entry.value { Text("\(Int(value))") }
                    }
                }
            }
            .padding()
            .task { await model.run() }
        }
    }
}

@MainActor
final class JournalModel: ObservableObject {
    @Published var status = "Opening the journal…"
    @Published var mood = 5.0
    @Published private(set) var entries: [Entry] = []  // Entry is Identifiable
    @Published private(set) var journal: Journal?
    // Log ids and error sentences only: never the patient's entries.
    private let logger = Logger(subsystem: "app.cairn.sample", category: "journal")

    private static var journalPath: String {
        let folder = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("journal.cairn").path
    }

    /// Opens the journal, then shows the latest entries until the view goes
    /// away (the task is cancelled: the stream stops listening).
    func run() async {
        do {
            let journal = try await Journal.openOrCreate(path: Self.journalPath, keys: KeychainKeyProvider())
            self.journal = journal
            status = "Journal open (Cairn \(coreVersion()))"
            let latest = EntryQuery(tracker: "mood", limit: 20, newestFirst: true)
            for try await page in journal.entryPages(query: latest) {
                entries = page.entries
                if !page.corrupted.isEmpty {
                    logger.warning("\(page.corrupted.count) damaged entries skipped")
                }
            }
        } catch KeyProviderError.keyMissingForExistingJournal {
            // The phone was restored from another one's backup: see ios/README.md,
            // "When the key is lost", for what to tell the patient and Journal.setAside.
            status = "The journal on this phone can't be unlocked."
        } catch KeyProviderError.unavailableUntilFirstUnlock {
            status = "Unlock the device to open the journal."
        } catch is CancellationError {
            // The view went away.
        } catch {
            logger.error("opening the journal failed: \(error.localizedDescription, privacy: .public)")
            status = "The journal could not be opened."
        }
    }

    func logMood() async {
        guard let journal else { return }
        let entry = NewEntry(tracker: "mood", value: .scale(value: mood), at: Date(), zone: .current)
        do {
            let saved = try await journal.log(entry: entry)
            logger.info("logged entry \(saved.id.value, privacy: .public)")
            let day = saved.localDate
            status = "Logged mood \(Int(mood)) for \(day.year ?? 0)-\(day.month ?? 0)-\(day.day ?? 0)"
        } catch CairnError.unknownZone {
            status = "This time zone is not known to the journal."
        } catch {
            logger.error("logging failed: \(error.localizedDescription, privacy: .public)")
            status = "The entry could not be saved."
        }
    }
}
