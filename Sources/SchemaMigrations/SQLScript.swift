/// Splits a SQL script into statements, because PostgreSQL's extended query protocol (the
/// only one PostgresNIO's async API speaks) takes one statement at a time.
///
/// Semicolons end a statement only outside quotes ('…', "…"), dollar-quoted bodies
/// ($$…$$, $tag$…$tag$) and comments (-- … and nested /* … */). Comment-only pieces are dropped.
enum SQLScript {
    static func statements(in script: String) -> [String] {
        let characters = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var hasCode = false
        var index = 0

        func append(_ range: Range<Int>) {
            current.append(contentsOf: characters[range])
        }
        func finishStatement() {
            let text = String(current).trimmingWhitespace()
            if hasCode, !text.isEmpty { statements.append(text) }
            current = String.UnicodeScalarView()
            hasCode = false
        }

        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case "-" where next == "-":
                let end = characters[index...].firstIndex(of: "\n") ?? characters.count
                index = end
            case "/" where next == "*":
                var depth = 0
                var cursor = index
                while cursor < characters.count {
                    if characters[cursor] == "/", cursor + 1 < characters.count, characters[cursor + 1] == "*" {
                        depth += 1
                        cursor += 2
                    } else if characters[cursor] == "*", cursor + 1 < characters.count, characters[cursor + 1] == "/" {
                        depth -= 1
                        cursor += 2
                        if depth == 0 { break }
                    } else {
                        cursor += 1
                    }
                }
                index = cursor
            case "'", "\"":
                var cursor = index + 1
                while cursor < characters.count {
                    if characters[cursor] == character {
                        // A doubled quote is an escaped quote, not the end.
                        if cursor + 1 < characters.count, characters[cursor + 1] == character {
                            cursor += 2
                            continue
                        }
                        break
                    }
                    cursor += 1
                }
                let end = min(cursor + 1, characters.count)
                append(index..<end)
                hasCode = true
                index = end
            case "$":
                if let tagEnd = dollarTagEnd(characters, from: index) {
                    let tag = Array(characters[index...tagEnd])
                    var cursor = tagEnd + 1
                    var bodyEnd = characters.count
                    while cursor + tag.count <= characters.count {
                        if Array(characters[cursor..<(cursor + tag.count)]) == tag {
                            bodyEnd = cursor + tag.count
                            break
                        }
                        cursor += 1
                    }
                    append(index..<bodyEnd)
                    hasCode = true
                    index = bodyEnd
                } else {
                    append(index..<(index + 1))
                    hasCode = true
                    index += 1
                }
            case ";":
                finishStatement()
                index += 1
            default:
                append(index..<(index + 1))
                if !character.properties.isWhitespace { hasCode = true }
                index += 1
            }
        }
        finishStatement()
        return statements
    }

    /// `$$` or `$tag$` starting at `start`: the index of the closing `$` of the tag.
    private static func dollarTagEnd(_ characters: [Unicode.Scalar], from start: Int) -> Int? {
        var cursor = start + 1
        while cursor < characters.count {
            let character = characters[cursor]
            if character == "$" { return cursor }
            let isTagCharacter =
                character == "_" || character.properties.isAlphabetic
                || (cursor > start + 1 && ("0"..."9").contains(character))
            guard isTagCharacter else { return nil }
            cursor += 1
        }
        return nil
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
