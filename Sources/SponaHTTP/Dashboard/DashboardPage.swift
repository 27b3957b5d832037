import Foundation
import Hummingbird
import Mustache
import NIOCore
import SponaProjections

/// A table of a dashboard page: what is shown, what a CSV download holds, and the chart drawn
/// from it. Built only from a view's table as the API answers it.
struct DashboardTable {
    struct Cell {
        var text: String
        /// The cell as a CSV holds it: digits without grouping, so that a spreadsheet reads a
        /// number; "<5" stays text.
        var csv: String
        var numeric = false
        var header = false
        var href: String?

        static func text(_ text: String, header: Bool = false, href: String? = nil) -> Cell {
            Cell(text: text, csv: text, numeric: false, header: header, href: href)
        }
        static func figure(_ cell: Disclosure.Cell, _ language: DashboardLanguage) -> Cell {
            switch cell {
            case .count(let n): Cell(text: language.number(n), csv: String(n), numeric: true)
            case .small: Cell(text: cell.description, csv: cell.description, numeric: true)
            }
        }
    }
    struct Header {
        var text: String
        var numeric: Bool
    }
    struct Row { var cells: [Cell] }

    var id: String
    var heading: String
    var headers: [Header]
    var rows: [Row] = []
    /// Inline SVG, already escaped.
    var chart: String?

    init(id: String, heading: String, headers: [Header]) {
        self.id = id
        self.heading = heading
        self.headers = headers
    }

    /// The table's body rows as HTML, every text escaped. Written here rather than by the
    /// template: Mustache reads values by reflection, which cost a Center's page of a thousand
    /// rows a quarter of a second; this costs a few milliseconds.
    func bodyHTML() -> String {
        var html = ""
        html.reserveCapacity(rows.count * 120)
        for row in rows {
            html += "<tr>"
            for cell in row.cells {
                let text = Self.escape(cell.text)
                let content = cell.href.map { "<a href=\"\(Self.escape($0))\">\(text)</a>" } ?? text
                if cell.header {
                    html += "<th scope=\"row\">\(content)</th>"
                } else {
                    html += cell.numeric ? "<td class=\"n\">\(content)</td>" : "<td>\(content)</td>"
                }
            }
            html += "</tr>\n"
        }
        return html
    }

    /// Text for HTML element content and quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// The table as a CSV file that Excel opens right in a Serbian locale: UTF-8 with a byte
    /// order mark, CRLF, headers in the page's language, and `;` when asked (Excel in locales
    /// whose decimal mark is a comma splits on it). No cell is ever read as a formula.
    func csv(separator: Character) -> String {
        func field(_ text: String) -> String { ViewTable.csvField(text, separator: separator) }
        var out = "\u{FEFF}" + headers.map { field($0.text) }.joined(separator: String(separator)) + "\r\n"
        for row in rows { out += row.cells.map { field($0.csv) }.joined(separator: String(separator)) + "\r\n" }
        return out
    }
}

/// What the page template renders (read by Mustache through reflection).
struct PageModel {
    struct Link {
        var href: String
        var label: String
        var current: Bool
        var code: String = ""
    }
    struct Option {
        var value: String
        var label: String
        var selected: Bool
    }
    struct Choice { var options: [Option] }
    struct PeriodChoice {
        var from: String
        var to: String
    }
    struct Block {
        var id: String
        var heading: String
        var chart: String?
        var headers: [DashboardTable.Header]
        /// The body rows, already HTML (``DashboardTable/bodyHTML()``).
        var body: String
        var isEmpty: Bool
        var emptyText: String
        var csvComma: String
        var csvSemicolon: String
        var csvCommaLabel: String
        var csvSemicolonLabel: String
    }

    var lang: String
    var title: String
    var heading: String
    var path: String
    var skip: String
    var signedIn = false
    var person = ""
    var signedInAs = ""
    var signOut = ""
    var formToken = ""
    var nav: [Link] = []
    var languageLabel: String
    var languages: [Link]
    var message: String?
    var isError = false
    var signInURL: String?
    var signInLabel = ""
    var hasFilters = false
    var districtChoice: Choice?
    var periodChoice: PeriodChoice?
    /// The breakdowns page's choice of what to break reports down by.
    var dimensionChoice: Choice?
    var dimensionLabel = ""
    var districtLabel = ""
    var fromLabel = ""
    var toLabel = ""
    var showLabel = ""
    var intro: String?
    var suppressionNote: String?
    var blocks: [Block] = []
}

/// The page template, parsed once.
enum DashboardTemplates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        // The template ships inside the binary; a broken one fails every dashboard test.
        try! library.register(String(decoding: PackageResources.page_mustache, as: UTF8.self), named: "page")
        return library
    }()

    static func render(_ model: PageModel, status: HTTPResponse.Status = .ok, extraHeaders: HTTPFields = [:]) -> Response {
        let html = library.render(model, withTemplate: "page") ?? ""
        var headers = DashboardRoutes.pageHeaders
        for field in extraHeaders { headers.append(field) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
