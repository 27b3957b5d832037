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

    static func escape(_ text: String) -> String { DashboardTable.escape(text) }

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

/// A line chart of a few series over the same months, as inline SVG. A hidden count ("<5")
/// breaks its line and is marked as a hollow point on the axis labelled with it: the chart never
/// draws a value the table does not show.
struct LineChart {
    struct Series {
        var name: String
        var cells: [Disclosure.Cell]
        var colour: String
        var dash: String
    }

    var title: String
    var labels: [String]
    var series: [Series]

    func svg(formatted: (Int) -> String) -> String {
        let (width, height) = (720.0, 260.0)
        let (left, right, bottom, top) = (12.0, 12.0, 34.0, 40.0)
        let plotHeight = height - bottom - top
        let highest = max(
            1,
            series.flatMap(\.cells).map { if case .count(let n) = $0 { n } else { 0 } }.max() ?? 1
        )
        let step = labels.count > 1 ? (width - left - right) / Double(labels.count - 1) : 0
        func x(_ index: Int) -> Double { labels.count > 1 ? left + Double(index) * step : width / 2 }
        func y(_ value: Int) -> Double { height - bottom - plotHeight * Double(value) / Double(highest) }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(BarChart.escape(title))">\
            <line x1="\(left)" y1="\(height - bottom)" x2="\(width - right)" y2="\(height - bottom)" stroke="#4a5560"/>
            """
        // The legend, so that colour is never the only way to tell the series apart.
        for (index, line) in series.enumerated() {
            let lx = left + Double(index) * 230
            svg +=
                "<line x1=\"\(lx)\" y1=\"14\" x2=\"\(lx + 28)\" y2=\"14\" stroke=\"\(line.colour)\" stroke-width=\"3\" stroke-dasharray=\"\(line.dash)\"/>"
            svg += "<text x=\"\(lx + 34)\" y=\"18\" font-size=\"12\" fill=\"#1b1f24\">\(BarChart.escape(line.name))</text>"
        }
        for line in series {
            var path = ""
            for (index, cell) in line.cells.enumerated() {
                switch cell {
                case .count(let n):
                    path += (path.isEmpty ? "M" : " L") + String(format: "%.1f %.1f", x(index), y(n))
                    svg +=
                        "<circle cx=\(q(x(index))) cy=\(q(y(n))) r=\"3\" fill=\"\(line.colour)\"><title>\(BarChart.escape(labels[index])): \(BarChart.escape(formatted(n)))</title></circle>"
                case .small:
                    // The line breaks: the next shown point starts a new piece.
                    if !path.isEmpty {
                        svg += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(line.colour)\" stroke-width=\"2\" stroke-dasharray=\"\(line.dash)\"/>"
                    }
                    path = ""
                    svg +=
                        "<circle cx=\(q(x(index))) cy=\(q(height - bottom)) r=\"4\" fill=\"#ffffff\" stroke=\"\(line.colour)\"><title>\(BarChart.escape(labels[index])): \(BarChart.escape(cell.description))</title></circle>"
                }
            }
            if !path.isEmpty {
                svg += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(line.colour)\" stroke-width=\"2\" stroke-dasharray=\"\(line.dash)\"/>"
            }
        }
        let every = max(1, Int((Double(labels.count) * 44 / width).rounded(.up)))
        for (index, label) in labels.enumerated() where index % every == 0 {
            svg +=
                "<text x=\(q(x(index))) y=\(q(height - bottom + 16)) font-size=\"11\" text-anchor=\"middle\" fill=\"#1b1f24\">\(BarChart.escape(label))</text>"
        }
        return svg + "</svg>"
    }

    private func q(_ value: Double) -> String { "\"\(String(format: "%.1f", value))\"" }
}
