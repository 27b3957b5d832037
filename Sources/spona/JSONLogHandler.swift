import Foundation
import Logging
import SponaEventStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One JSON object per line on standard error (`SPONA_LOG_FORMAT=json`), for log collectors
/// (Loki, Elasticsearch, journald's JSON): `time`, `level`, `logger`, `message`, then the
/// metadata as fields (`hb.request.id`, `route`, `status`, `duration_ms` …). Like every log of
/// Spona it carries ids, counts and kinds, never personal data: the handler only changes the
/// form of what the code logs.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    /// Lines from concurrent tasks never interleave.
    private static let output = Mutex(())

    init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let given = event.metadata { fields.merge(given) { _, new in new } }
        let now = Date()
        var line = "{\"time\":"
        Self.append(string: CivilCalendar.timestamp(now) ?? ISO8601DateFormatter().string(from: now), to: &line)
        line += ",\"level\":"
        Self.append(string: event.level.rawValue, to: &line)
        line += ",\"logger\":"
        Self.append(string: label, to: &line)
        line += ",\"message\":"
        Self.append(string: event.message.description, to: &line)
        for key in fields.keys.sorted() where !["time", "level", "logger", "message"].contains(key) {
            line += ","
            Self.append(string: key, to: &line)
            line += ":"
            Self.append(value: fields[key]!, to: &line)
        }
        line += "}\n"
        var bytes = Array(line.utf8)
        Self.output.withLock { _ in
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { if errno == EINTR { continue } else { break } }
                    offset += written
                }
            }
        }
    }

    static func append(value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let text): append(string: text, to: &line)
        case .stringConvertible(let value): append(string: value.description, to: &line)
        case .array(let values):
            line += "["
            for (index, value) in values.enumerated() {
                if index > 0 { line += "," }
                append(value: value, to: &line)
            }
            line += "]"
        case .dictionary(let members):
            line += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                append(string: key, to: &line)
                line += ":"
                append(value: members[key]!, to: &line)
            }
            line += "}"
        }
    }

    /// A JSON string: quotes, backslashes and every control character escaped, so that no
    /// message can break a line or forge a field.
    static func append(string: String, to line: inout String) {
        line += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
                line += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}
