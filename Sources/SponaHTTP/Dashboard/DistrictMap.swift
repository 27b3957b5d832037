import Foundation
import SponaDomain
import SponaProjections

/// The districts as a schematic map (a tile map): one square per district, placed where the
/// district lies relative to the others, north up. The reference data has the districts' ISO
/// codes but no borders, and a tile map needs none; it is labelled as schematic. Each tile is
/// shaded by the figure the table beside it shows, and a hidden count ("<5") is hatched, never
/// shaded as a guessed value. Districts the reader may not see are drawn empty, without a figure.
struct DistrictMap {
    struct Tile {
        var district: DistrictCode
        var name: String
        /// Nil: not the reader's to see.
        var cell: Disclosure.Cell?
    }

    var title: String
    var note: String
    var tiles: [Tile]

    /// Column (west to east) and row (north to south) of each district's tile.
    static let positions: [String: (column: Int, row: Int)] = [
        "RS-01": (1, 0), "RS-03": (2, 0),
        "RS-05": (0, 1), "RS-06": (1, 1), "RS-02": (2, 1),
        "RS-07": (1, 2), "RS-00": (2, 2), "RS-04": (3, 2),
        "RS-08": (0, 3), "RS-09": (1, 3), "RS-10": (2, 3), "RS-11": (3, 3), "RS-14": (4, 3),
        "RS-16": (0, 4), "RS-17": (1, 4), "RS-12": (2, 4), "RS-13": (3, 4), "RS-15": (4, 4),
        "RS-18": (1, 5), "RS-19": (2, 5), "RS-20": (3, 5), "RS-22": (4, 5),
        "RS-21": (2, 6), "RS-23": (3, 6),
        "RS-24": (3, 7),
    ]

    /// The district's name without "upravni okrug" / "Grad", for a tile.
    static func shortName(_ name: String) -> String {
        var short = name
        for suffix in [" upravni okrug", " управни округ"] where short.hasSuffix(suffix) { short.removeLast(suffix.count) }
        for prefix in ["Grad ", "Град "] where short.hasPrefix(prefix) { short.removeFirst(prefix.count) }
        return short
    }

    /// Light to dark; text dark on the first three, white on the last two (contrast ≥ 4.5:1).
    static let shades = ["#e8f0fa", "#c6dbef", "#9ecae1", "#2b6cb0", "#08519c"]

    func svg(formatted: (Int) -> String) -> String {
        let (size, gap, margin) = (112.0, 6.0, 8.0)
        let width = margin * 2 + 5 * size + 4 * gap
        let height = margin * 2 + 8 * size + 7 * gap + 18
        let highest = max(1, tiles.compactMap { if case .count(let n)? = $0.cell { n } else { nil } }.max() ?? 1)
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" style="max-width:560px" role="img" aria-label="\(BarChart.escape(title))">\
            <defs><pattern id="map-hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">\
            <rect width="8" height="8" fill="#e6ebf0"/><line x1="0" y1="0" x2="0" y2="8" stroke="#7d8a96" stroke-width="2"/></pattern></defs>
            """
        for tile in tiles {
            guard let (column, row) = Self.positions[tile.district.rawValue] else { continue }
            let x = margin + Double(column) * (size + gap)
            let y = margin + Double(row) * (size + gap)
            let fill: String
            let ink: String
            let shown: String
            switch tile.cell {
            case .count(let n)?:
                let shade = n == 0 ? 0 : min(Self.shades.count - 1, 1 + Int(Double(n) / Double(highest) * Double(Self.shades.count - 1) - 0.0001))
                fill = Self.shades[shade]
                ink = shade >= 3 ? "#ffffff" : "#1b1f24"
                shown = formatted(n)
            case .small?:
                fill = "url(#map-hatch)"
                ink = "#1b1f24"
                shown = tile.cell!.description
            case nil:
                fill = "#ffffff"
                ink = "#5a6570"
                shown = ""
            }
            let name = Self.shortName(tile.name)
            svg += "<g><title>\(BarChart.escape(tile.name))\(shown.isEmpty ? "" : ": " + BarChart.escape(shown))</title>"
            svg +=
                "<rect x=\"\(Int(x))\" y=\"\(Int(y))\" width=\"\(Int(size))\" height=\"\(Int(size))\" rx=\"6\" fill=\"\(fill)\" stroke=\"#7d8a96\"/>"
            svg +=
                "<text x=\"\(Int(x + size / 2))\" y=\"\(Int(y + 24))\" font-size=\"12\" text-anchor=\"middle\" fill=\"\(ink)\">\(BarChart.escape(name))</text>"
            if !shown.isEmpty {
                // A hatched tile's figure sits on a white plate, so that it reads on the hatching.
                if case .small? = tile.cell {
                    svg +=
                        "<rect x=\"\(Int(x + size / 2 - 22))\" y=\"\(Int(y + size / 2 - 4))\" width=\"44\" height=\"26\" rx=\"4\" fill=\"#ffffff\"/>"
                }
                svg +=
                    "<text x=\"\(Int(x + size / 2))\" y=\"\(Int(y + size / 2 + 16))\" font-size=\"18\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"\(ink)\">\(BarChart.escape(shown))</text>"
            }
            svg += "</g>"
        }
        svg +=
            "<text x=\"\(Int(margin))\" y=\"\(Int(height - 6))\" font-size=\"11\" fill=\"#4a5560\">\(BarChart.escape(note))</text>"
        return svg + "</svg>"
    }
}
