import Foundation
import SponaProjections

/// A bar chart drawn on the server as inline SVG: no script, prints as it shows, and reads on a
/// district office's old PC. A hidden count ("<5") is drawn as a hatched stub with its label,
/// never as a bar of a guessed height. The figures are always in a table beside it.
struct BarChart {
    struct Bar {
        var label: String
        var cell: Disclosure.Cell
    }

    var title: String
    var bars: [Bar]

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The SVG element (already escaped: it goes into the page unescaped).
    func svg(formatted: (Int) -> String) -> String {
        let width = 720.0
        let height = 260.0
        let (left, bottom, top) = (8.0, 34.0, 22.0)
        let plotHeight = height - bottom - top
        let highest = max(1, bars.map { if case .count(let n) = $0.cell { n } else { 0 } }.max() ?? 1)
        let slot = (width - left * 2) / Double(max(bars.count, 1))
        let barWidth = min(56, max(2, slot * 0.7))
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(Self.escape(title))">\
            <defs><pattern id="hidden-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">\
            <rect width="6" height="6" fill="#e6ebf0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#7d8a96" stroke-width="2"/></pattern></defs>\
            <line x1="\(left)" y1="\(height - bottom)" x2="\(width - left)" y2="\(height - bottom)" stroke="#4a5560"/>
            """
        // Axis labels only every few bars when there are many, so they never overlap.
        let every = max(1, Int((Double(bars.count) * 44 / width).rounded(.up)))
        for (index, bar) in bars.enumerated() {
            let x = left + Double(index) * slot + (slot - barWidth) / 2
            let centre = x + barWidth / 2
            let shown: String
            let barHeight: Double
            let fill: String
            switch bar.cell {
            case .count(let n):
                barHeight = plotHeight * Double(n) / Double(highest)
                shown = formatted(n)
                fill = "#2f6fb1"
            case .small:
                barHeight = 8
                shown = bar.cell.description
                fill = "url(#hidden-hatch)"
            }
            let y = height - bottom - barHeight
            svg += "<rect x=\(quote(x)) y=\(quote(y)) width=\(quote(barWidth)) height=\(quote(barHeight)) fill=\"\(fill)\">"
            svg += "<title>\(Self.escape(bar.label)): \(Self.escape(shown))</title></rect>"
            if bars.count <= 24 {
                svg +=
                    "<text x=\(quote(centre)) y=\(quote(y - 4)) font-size=\"11\" text-anchor=\"middle\" fill=\"#1b1f24\">\(Self.escape(shown))</text>"
            }
            if index % every == 0 {
                svg +=
                    "<text x=\(quote(centre)) y=\(quote(height - bottom + 16)) font-size=\"11\" text-anchor=\"middle\" fill=\"#1b1f24\">\(Self.escape(bar.label))</text>"
            }
        }
        return svg + "</svg>"
    }

    private func quote(_ value: Double) -> String { "\"\(String(format: "%.1f", value))\"" }
}
