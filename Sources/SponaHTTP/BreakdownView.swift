import Hummingbird
import SponaDomain
import SponaProjections

extension ViewRoutes {
    /// `GET /v1/views/breakdowns?dimension=…&from=…&to=…`: one of ``Breakdown/Dimension``'s
    /// breakdowns for a period, one column per value (every value, also when nothing was
    /// counted), one row per municipality, city (adding up its city municipalities), district
    /// and, for the Center, the nation.
    ///
    /// A period and not months: this is what an annual or quarterly report cites, and analysts'
    /// small counts are far rarer over a period. Each place's count for the period is summed over
    /// the months with its cell key and shown as one cell (as ``municipalities`` does for period
    /// totals); districts, cities and the nation add up what is shown of their places.
    func breakdown(_ request: Request, _ context: SponaRequestContext, _ db: ViewDatabase) async throws -> ViewTable {
        let dimensionText = request.uri.queryParameters["dimension"].map(String.init) ?? ""
        guard let dimension = Breakdown.Dimension(rawValue: dimensionText) else {
            throw Problem.invalid(
                "'dimension' is one of \(Breakdown.Dimension.allCases.map(\.rawValue).joined(separator: ", ")), not '\(dimensionText.prefix(60))'"
            )
        }
        let audience = try audience(context, district: request.uri.queryParameters["district"].map(String.init), db)
        let (from, to) = try Self.period(request)
        guard from != "0000-00", to != "9999-99" else {
            throw Problem.invalid("a breakdown is for a period: give 'from' and 'to' (months like 2026-01)")
        }
        guard from <= to else { throw Problem.invalid("'from' (\(from)) is after 'to' (\(to))") }
        let cyrillic = try Self.cyrillic(request)
        let values = dimension.values
        let empty = [(count: Int, key: Int64)](repeating: (0, 0), count: values.count)

        // Each place's counts and cell keys over the whole period.
        let codes = audience.districts.flatMap { geography.municipalities(in: $0) }.map(\.code.rawValue)
        var cells: [MunicipalityCode: [(count: Int, key: Int64)]] = [:]
        let found = try await CaseStatisticsProjection.breakdownCells(dimension, codes, from: from, to: to, through: audience.lastMonth, read: db.run)
        for cell in found {
            guard let index = values.firstIndex(of: cell.value) else { continue }
            let place = MunicipalityCode(rawValue: cell.municipality)
            var row = cells[place] ?? empty
            row[index].count += cell.count
            row[index].key = (row[index].key + cell.key) % StatisticsRules.keyModulus
            cells[place] = row
        }

        func perturbed(_ row: [(count: Int, key: Int64)]) -> [Int] {
            audience.suppressed ? row.map { disclosure.value($0.count, key: $0.key) } : row.map(\.count)
        }
        func shown(_ figures: [Int]) -> [ViewTable.Value] {
            figures.map { .cell(audience.suppressed ? disclosure.cell($0) : .count($0)) }
        }
        func name(_ code: MunicipalityCode) -> String {
            geography.municipality(code).map { cyrillic ? $0.nameCyrillic : $0.nameLatin } ?? code.rawValue
        }
        func add(_ a: [Int], _ b: [Int]) -> [Int] { zip(a, b).map { $0 + $1 } }

        let period = "\(from)/\(min(to, audience.lastMonth))"
        var table = ViewTable(columns: ["period", "district", "municipality", "name"] + values)
        var national = [Int](repeating: 0, count: values.count)
        for district in audience.districts.sorted(by: { $0.rawValue < $1.rawValue }) {
            let places = geography.municipalities(in: district).map(\.code).filter { cells[$0] != nil }.sorted { $0.rawValue < $1.rawValue }
            guard !places.isEmpty else { continue }
            let shownOf = Dictionary(places.map { ($0, perturbed(cells[$0]!)) }, uniquingKeysWith: { first, _ in first })
            var total = [Int](repeating: 0, count: values.count)
            for place in places {
                total = add(total, shownOf[place]!)
                table.add(
                    kind: "municipality",
                    [.text(period), .text(district.rawValue), .text(place.rawValue), .text(name(place))] + shown(shownOf[place]!)
                )
            }
            let cities = Set(places.compactMap { geography.municipality($0)?.parent } + places.filter { geography.municipality($0)?.kind == .city })
            for city in cities.sorted(by: { $0.rawValue < $1.rawValue }) {
                let parts = Set(geography.cityAndParts(city))
                guard parts.count > 1 else { continue }
                let sum = places.filter(parts.contains).reduce([Int](repeating: 0, count: values.count)) { add($0, shownOf[$1]!) }
                table.add(kind: "city", [.text(period), .text(district.rawValue), .text(city.rawValue), .text(name(city))] + shown(sum))
            }
            national = add(national, total)
            let districtName = geography.district(district).map { cyrillic ? $0.nameCyrillic : $0.nameLatin } ?? district.rawValue
            table.add(kind: "district", [.text(period), .text(district.rawValue), .text(""), .text(districtName)] + shown(total))
        }
        if !audience.suppressed {
            table.add(kind: "national", [.text(period), .text(""), .text(""), .text(cyrillic ? "Србија" : "Srbija")] + shown(national))
        }
        table.suppressionThreshold = audience.suppressed ? disclosure.threshold : nil
        return table
    }
}
