// Needs Foundation.Process: Linux and macOS only (not the iOS simulator).
#if os(Linux) || os(macOS)
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `cairn-clinic serve` on 127.0.0.1 with a fresh data folder, and
/// its operator commands (`enroll`, `entries --json`, `revoke`, the
/// patient's records: `command`, `safetyPlan`, `flags`). The binary
/// is `$CAIRN_CLINIC_BIN` (tests/swift.sh builds it, copies it into the
/// Swift root and sets it); without it the test is skipped. `stop()` kills
/// the server and deletes the folder.
final class ClinicServer: @unchecked Sendable {
    let binary: String
    let folder: URL
    /// `http://127.0.0.1:PORT`, as the server printed it.
    let url: String
    private let process: Process

    /// Starts a server; `XCTSkip` when `CAIRN_CLINIC_BIN` is not set.
    init() throws {
        guard let binary = ProcessInfo.processInfo.environment["CAIRN_CLINIC_BIN"], !binary.isEmpty else {
            throw XCTSkip("CAIRN_CLINIC_BIN is not set (bash tests/swift.sh sets it)")
        }
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ServerError("CAIRN_CLINIC_BIN=\(binary) is not an executable")
        }
        self.binary = binary
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("cairn-clinic-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let log = folder.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--data", folder.appendingPathComponent("data").path, "serve", "--listen", "127.0.0.1:0"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        // The first stdout line says where it listens (the server prints
        // nothing more there).
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let first = String(decoding: line, as: UTF8.self)
        guard let range = first.range(of: "listening on ") else {
            let logText = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            process.terminate()
            throw ServerError("cairn-clinic serve printed \(first.debugDescription); log: \(logText.prefix(2000))")
        }
        url = String(first[range.upperBound...].prefix { !$0.isWhitespace })
    }

    /// A new enrollment code for `patient` (created on first use).
    func enrollmentCode(_ patient: String) throws -> String {
        try admin(["enroll", "--patient", patient, "--url", url]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The clinic's entries of `patient` (`entries --json`).
    func entries(_ patient: String) throws -> [[String: Any]] {
        let json = try entriesJSON(patient)
        guard let list = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else {
            throw ServerError("entries --json is not an array of objects: \(json.prefix(200))")
        }
        return list
    }

    /// `entries --json` as printed.
    func entriesJSON(_ patient: String) throws -> String {
        try admin(["entries", "--patient", patient, "--json"])
    }

    /// Revokes a device: its requests are refused from now on.
    func revoke(_ deviceId: String) throws {
        _ = try admin(["revoke", deviceId])
    }

    /// Runs a command that writes a patient's records (`tracker add`,
    /// `reminder add`, `session add`, `safety-plan set`, ...); its stdout
    /// trimmed: the new record's id for an `add`.
    @discardableResult
    func command(_ arguments: [String]) throws -> String {
        try admin(arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The patient's safety plan as the clinic holds it (`safety-plan show
    /// --json`): each part (`warning_signs`, `coping_strategies`, ...) to
    /// its items.
    func safetyPlan(_ patient: String) throws -> [String: [String]] {
        let json = try admin(["safety-plan", "show", "--patient", patient, "--json"])
        guard let plan = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [String]] else {
            throw ServerError("safety-plan show --json is not an object of string lists: \(json.prefix(200))")
        }
        return plan
    }

    /// Every patient's flags as the clinic holds them (`flags --json`):
    /// patient, id, kind, title, reason, state, raised_at, acknowledged_at,
    /// acknowledged_by, source.
    func flags() throws -> [[String: Any]] {
        let json = try admin(["flags", "--json"])
        guard let list = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else {
            throw ServerError("flags --json is not an array of objects: \(json.prefix(200))")
        }
        return list
    }

    /// Runs an operator command on the same data folder; its stdout.
    func admin(_ arguments: [String]) throws -> String {
        try runCommand(binary, ["--data", folder.appendingPathComponent("data").path] + arguments)
    }

    /// Kills the server (SIGTERM, then SIGKILL after 5 s) and deletes its folder.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }
}

/// A TCP port on 127.0.0.1 that takes connections (the kernel's backlog)
/// and never answers: a request to it waits until cancelled or timed out.
final class SilentListener: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32

    init() throws {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw ServerError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        guard bound == 0, listen(fd, 8) == 0 else {
            close(fd)
            throw ServerError("bind() or listen() failed")
        }
        var actual = sockaddr_in()
        var length = size
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = UInt16(bigEndian: actual.sin_port)
    }

    func stop() {
        close(fd)
    }
}

struct ServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `executable` with `arguments` (and `input` on stdin); its stdout.
/// Fails on a non-zero exit.
func runCommand(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let stdin = Pipe()
    if input != nil { p.standardInput = stdin }
    try p.run()
    if let input {
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
    }
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw ServerError("\(executable) \(arguments.first ?? "") exited \(p.terminationStatus): "
            + String(decoding: errors.prefix(2000), as: UTF8.self))
    }
    return String(decoding: output, as: UTF8.self)
}
#endif
