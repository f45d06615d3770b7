import Foundation
import Glibc
import Synchronization

/// A real `pingroll serve` child process on a temporary SQLite database and a free loopback port.
final class ServerProcess: @unchecked Sendable {
    let directory: URL
    let databasePath: String
    let process = Process()
    private let pipe = Pipe()
    private let output = OutputBuffer()
    private(set) var port: UInt16 = 0

    /// The `pingroll` binary built next to this test bundle (or `PINGROLL_BIN`).
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["PINGROLL_BIN"] { return URL(fileURLWithPath: path) }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("pingroll")
    }

    /// - Parameter database: a PostgreSQL URL, or nil for a SQLite file in a new temp directory.
    /// - Parameter environment: variables set for the server on top of the test's own.
    init(arguments: [String] = [], database: String? = nil, environment: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        databasePath = database ?? directory.appendingPathComponent("pingroll.sqlite3").path
        process.executableURL = Self.binary
        process.arguments = ["serve", "--database", databasePath, "--listen", "127.0.0.1:0"] + arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        process.standardError = pipe
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [output] handle in
            let data = handle.availableData
            if !data.isEmpty { output.text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        }
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let port = Self.listeningPort(in: log) { self.port = port; return }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        process.terminate()
        throw ServerError(message: "pingroll serve did not start listening; output:\n\(log)")
    }

    var log: String { output.text.withLock { $0 } }

    static func listeningPort(in log: String) -> UInt16? {
        guard let range = log.range(of: "listening on http://127.0.0.1:") else { return nil }
        return UInt16(log[range.upperBound...].prefix { $0.isNumber })
    }

    /// Sends `signal` and waits for the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        // Collect what the process wrote last, which the handler may not have seen yet.
        pipe.fileHandleForReading.readabilityHandler = nil
        let rest = pipe.fileHandleForReading.readDataToEndOfFile()
        output.text.withLock { $0 += String(decoding: rest, as: UTF8.self) }
        return process.terminationStatus
    }

    func client() -> HTTPClient { HTTPClient(port: port) }

    func cleanUp() {
        if process.isRunning { stop(signal: SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A new API token of `role` on this server's database (`pingroll token create`).
    func token(role: String, name: String? = nil) throws -> String {
        let (status, output) = try runCommand(["token", "create", "--role", role, "--name", name ?? "\(role)-\(UUID().uuidString.prefix(8))"])
        guard status == 0, let last = output.split(separator: "\n").last else { throw ServerError(message: "token create failed: \(output)") }
        return String(last)
    }

    /// Runs another pingroll subcommand on the same database; returns exit status and output.
    func runCommand(_ arguments: [String]) throws -> (Int32, String) {
        try Self.run(arguments + ["--database", databasePath])
    }

    /// Runs a pingroll subcommand; returns exit status and output.
    static func run(_ arguments: [String]) throws -> (Int32, String) { try runTool(binary.path, arguments) }

    /// Runs any program; returns exit status and output.
    static func runTool(_ path: String, _ arguments: [String], in directory: URL? = nil) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        if let directory { p.currentDirectoryURL = directory }
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

struct ServerError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

final class OutputBuffer: Sendable {
    let text = Mutex("")
}

/// Samples a process's resident memory (VmRSS) every 20 ms on a thread of its own until
/// `stop()`, which returns the highest value seen, in MiB.
final class RSSSampler: @unchecked Sendable {
    // `peak` and `running` are guarded by `lock`.
    private let lock = NSLock()
    private var peak: Double
    private var running = true
    private let done = DispatchSemaphore(value: 0)
    let pid: Int32

    init(pid: Int32) {
        self.pid = pid
        peak = Self.rss(pid)
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                let now = Self.rss(pid)
                lock.withLock { peak = max(peak, now) }
                usleep(20_000)
            }
            done.signal()
        }
        thread.start()
    }

    func stop() -> Double {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { peak }
    }

    /// The process's resident memory now, in MiB (0 when it cannot be read).
    static func rss(_ pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
    }
}
