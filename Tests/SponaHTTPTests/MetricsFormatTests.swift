import Foundation
import Testing

/// The Prometheus text exposition format (version 0.0.4), parsed strictly: what a scraper
/// would refuse or misread is a test failure here, not a gap on a dashboard.
struct PrometheusText {
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }
    var types: [String: String] = [:]
    var helps: [String: String] = [:]
    var samples: [Sample] = []

    struct Malformed: Error, CustomStringConvertible {
        var line: String
        var why: String
        var description: String { "\(why): \(line)" }
    }

    static func isName(_ text: Substring) -> Bool {
        guard let first = text.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || first == "_" || first == ":" else {
            return false
        }
        return text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == ":") }
    }

    static func parse(_ text: String) throws -> PrometheusText {
        var result = PrometheusText()
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1)
                guard parts.count == 2, isName(parts[0]) else {
                    throw Malformed(line: String(line), why: "a HELP or TYPE line needs a name and text")
                }
                if line.hasPrefix("# TYPE ") {
                    guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[1])) else {
                        throw Malformed(line: String(line), why: "unknown type")
                    }
                    guard result.types.updateValue(String(parts[1]), forKey: String(parts[0])) == nil else {
                        throw Malformed(line: String(line), why: "a second TYPE for one family")
                    }
                } else {
                    result.helps[String(parts[0])] = String(parts[1])
                }
                continue
            }
            if line.hasPrefix("#") { continue }
            var rest = Substring(line)
            let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
            let name = rest[..<nameEnd]
            guard isName(name) else { throw Malformed(line: String(line), why: "not a metric name") }
            rest = rest[nameEnd...]
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    guard let equals = rest.firstIndex(of: "=") else { throw Malformed(line: String(line), why: "a label without =") }
                    let label = rest[..<equals]
                    guard isName(label), !label.contains(":") else { throw Malformed(line: String(line), why: "not a label name") }
                    rest = rest[rest.index(after: equals)...]
                    guard rest.first == "\"" else { throw Malformed(line: String(line), why: "a label value not quoted") }
                    rest = rest.dropFirst()
                    var value = ""
                    while let character = rest.first, character != "\"" {
                        rest = rest.dropFirst()
                        if character == "\\" {
                            guard let escaped = rest.first, ["\\", "\"", "n"].contains(escaped) else {
                                throw Malformed(line: String(line), why: "a bad escape in a label value")
                            }
                            value.append(escaped == "n" ? "\n" : escaped)
                            rest = rest.dropFirst()
                        } else {
                            value.append(character)
                        }
                    }
                    guard rest.first == "\"" else { throw Malformed(line: String(line), why: "an unterminated label value") }
                    rest = rest.dropFirst()
                    guard labels.updateValue(value, forKey: String(label)) == nil else { throw Malformed(line: String(line), why: "a label twice") }
                    if rest.first == "," { rest = rest.dropFirst() }
                }
                rest = rest.dropFirst()
            }
            let fields = rest.split(separator: " ")
            guard (1...2).contains(fields.count) else { throw Malformed(line: String(line), why: "a sample needs a value (and at most a timestamp)") }
            let valueText = String(fields[0])
            let value: Double? =
                switch valueText {
                case "NaN": .nan
                case "+Inf": .infinity
                case "-Inf": -.infinity
                default: Double(valueText)
                }
            guard let value else { throw Malformed(line: String(line), why: "not a number") }
            result.samples.append(Sample(name: String(name), labels: labels, value: value))
        }
        return result
    }

    /// The family a sample belongs to (a histogram's `_bucket`, `_sum`, `_count`).
    func family(of sample: Sample) -> String? {
        if types[sample.name] != nil { return sample.name }
        for suffix in ["_bucket", "_sum", "_count"] where sample.name.hasSuffix(suffix) {
            let base = String(sample.name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return nil
    }
}

@Suite("The metrics, as a scraper reads them")
struct MetricsFormatTests {
    @Test("every line parses as Prometheus text, every sample has a declared family, and the names follow Prometheus's conventions")
    func conventions() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            _ = try await n.fileReport()
            _ = try await api.send(.get, "/v1/inbox", token: "spona_not-a-token")
            _ = try await api.send(.get, "/v1/inbox", token: n.schoolStaff)
            let reply = try await api.send(.get, "/metrics", token: nil)
            #expect(reply.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true, "\(reply.headers)")
            let metrics = try PrometheusText.parse(reply.text)
            #expect(metrics.samples.count > 20)

            var series = Set<String>()
            for sample in metrics.samples {
                let family = metrics.family(of: sample)
                #expect(family != nil, "\(sample.name) has no TYPE")
                #expect(series.insert(sample.name + sample.labels.sorted { $0.key < $1.key }.description).inserted, "\(sample.name) twice")
                // Only route templates and kinds as labels: never an id.
                for value in sample.labels.values {
                    #expect(value.range(of: #"[0-9a-f]{8}-[0-9a-f]{4}-"#, options: .regularExpression) == nil, "\(sample.name) carries an id")
                }
            }
            for (name, type) in metrics.types {
                #expect(name.hasPrefix("spona_") || name.hasPrefix("process_"), "\(name): not Spona's namespace")
                #expect(metrics.helps[name] != nil, "\(name) has no HELP")
                if type == "counter" { #expect(name.hasSuffix("_total"), "counter \(name) does not end in _total") }
                if type != "counter" { #expect(!name.hasSuffix("_total"), "\(type) \(name) ends in _total") }
                #expect(!name.contains("_age"), "\(name): export a timestamp, not an age")
                #expect(!name.hasSuffix("_ms") && !name.hasSuffix("_milliseconds"), "\(name): durations in seconds")
                if type == "histogram" {
                    let buckets = metrics.samples.filter { $0.name == name + "_bucket" }
                    #expect(!buckets.isEmpty && buckets.allSatisfy { $0.labels["le"] != nil }, "\(name) buckets")
                    #expect(buckets.contains { $0.labels["le"] == "+Inf" }, "\(name) has no +Inf bucket")
                    #expect(name.hasSuffix("_seconds") || name.hasSuffix("_bytes") || name.hasSuffix("_events"), "\(name): a unit suffix")
                }
            }
            #expect(metrics.types["spona_build_info"] == "gauge")
            #expect(metrics.samples.contains { $0.name == "spona_authentication_failures_total" && $0.labels["kind"] == "token" && $0.value >= 1 })
            #expect(metrics.samples.contains { $0.name == "spona_http_requests_total" && $0.labels["route"] == "/v1/cases" })
        }
    }

    @Test("the parser refuses what a scraper would")
    func parserRefuses() {
        for bad in ["1metric 1", "m{a=b} 1", "m{a=\"b} 1", "m one", "m{a=\"x\",a=\"y\"} 1", "# TYPE m countr", "m{a=\"\\q\"} 1"] {
            #expect(throws: PrometheusText.Malformed.self, "\(bad)") { try PrometheusText.parse(bad) }
        }
        #expect(throws: Never.self) { try PrometheusText.parse("# HELP m x\n# TYPE m gauge\nm{a=\"b\\\"c\"} NaN\nm 2 1700000000\n") }
    }
}
