/// RFC 4180 CSV, enough for the reference files the project ships and imports: quoted fields,
/// doubled quotes, commas and line breaks inside quotes. A header row names the columns.
public struct CSVTable: Sendable {
    public let header: [String]
    public let rows: [[String: String]]

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case empty
        case unterminatedQuote(line: Int)
        case wrongFieldCount(line: Int, expected: Int, found: Int)

        public var description: String {
            switch self {
            case .empty: "the file is empty; expected a header row"
            case .unterminatedQuote(let line): "line \(line): a quoted field is never closed"
            case let .wrongFieldCount(line, expected, found): "line \(line): \(found) fields where the header has \(expected)"
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        var records: [[String]] = []
        var lineNumbers: [Int] = []
        var field = ""
        var record: [String] = []
        var inQuotes = false
        var line = 1
        var recordLine = 1
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = iterator.next()
        if pending == "\u{FEFF}" { pending = iterator.next() }
        while let scalar = pending {
            pending = iterator.next()
            if inQuotes {
                if scalar == "\"" {
                    if pending == "\"" {
                        field.unicodeScalars.append("\"")
                        pending = iterator.next()
                    } else {
                        inQuotes = false
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"": inQuotes = true
            case ",":
                record.append(field)
                field = ""
            case "\r": continue
            case "\n":
                record.append(field)
                field = ""
                if !(record.count == 1 && record[0].isEmpty) {
                    records.append(record)
                    lineNumbers.append(recordLine)
                }
                record = []
                line += 1
                recordLine = line
            default: field.unicodeScalars.append(scalar)
            }
        }
        if inQuotes { throw .unterminatedQuote(line: recordLine) }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
            lineNumbers.append(recordLine)
        }
        guard let header = records.first else { throw .empty }
        self.header = header
        var rows: [[String: String]] = []
        for (index, record) in records.enumerated().dropFirst() {
            guard record.count == header.count else {
                throw .wrongFieldCount(line: lineNumbers[index], expected: header.count, found: record.count)
            }
            rows.append(Dictionary(zip(header, record), uniquingKeysWith: { first, _ in first }))
        }
        self.rows = rows
    }
}
