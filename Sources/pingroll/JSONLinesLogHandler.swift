import Foundation
import Logging
import Synchronization

/// Log records as one JSON object per line on standard error: `time`, `level`, `label`,
/// `message`, `source` and every metadata key, values as strings.
struct JSONLinesLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    /// One write per line, so lines of several threads never interleave; also guards the
    /// formatter and the encoder (made once, not per line).
    private static let output = Mutex(())
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        write(level: event.level, message: event.message, metadata: event.metadata, source: event.source)
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        write(level: level, message: message, metadata: explicit, source: source)
    }

    private func write(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String) {
        var fields: [String: String] = [:]
        for (key, value) in self.metadata { fields[key] = "\(value)" }
        for (key, value) in metadataProvider?.get() ?? [:] { fields[key] = "\(value)" }
        for (key, value) in explicit ?? [:] { fields[key] = "\(value)" }
        fields["level"] = level.rawValue
        fields["label"] = label
        fields["message"] = message.description
        fields["source"] = source
        let now = Date()
        Self.output.withLock { _ in
            // The formatter and the encoder are used under the lock only.
            fields["time"] = ISO8601DateFormatter.withFractions.string(from: now)
            guard var line = try? Self.encoder.encode(fields) else { return }
            line.append(0x0A)
            FileHandle.standardError.write(line)
        }
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}
