import Crypto
import Foundation
import SponaDomain

/// Turns reference CSV rows into registry facts, with ids derived from the rows so a second
/// load finds what the first one wrote.
public struct ReferenceImport: Sendable {
    /// A row that cannot be imported, named by its line.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    let geography: Geography

    public init(geography: Geography) { self.geography = geography }

    public func institutions(_ table: CSVTable) throws -> [InstitutionEvent.Details] {
        for column in ["name_lat", "sector"] where !table.header.contains(column) {
            throw Problem("the institutions file has no column '\(column)'")
        }
        return try table.rows.enumerated().compactMap { index, row in
            if row["is_center"] == "true" { return nil }  // the Center is registered by itself
            guard let sector = Sector(rawValue: row["sector"] ?? "") else {
                throw Problem("institutions line \(index + 2): '\(row["sector"] ?? "")' is not a sector")
            }
            var municipality: MunicipalityCode?
            // An inter-municipal institution lists several ("Mionica;Ljig;Lajkovac"): the first is its seat.
            if let listed = row["municipality_lat"], let name = listed.split(separator: ";").first.map(String.init), !name.isEmpty {
                let part = row["city_municipality_lat"] ?? ""
                guard
                    let found = part.isEmpty
                        ? geography.resolve(name: name) : geography.resolve(name: part, within: name) ?? geography.resolve(name: name)
                else {
                    throw Problem("institutions line \(index + 2): '\(name)' is not a municipality")
                }
                municipality = found.code
            }
            let name = row["name_lat"] ?? ""
            return InstitutionEvent.Details(
                id: InstitutionID(rawValue: Self.stableID("institution|\(name)|\(municipality?.rawValue ?? "")")),
                nameLatin: name,
                nameCyrillic: row["name_cyr"].flatMap { $0.isEmpty ? nil : $0 },
                sector: sector,
                municipality: municipality
            )
        }
    }

    public func trainings(_ table: CSVTable) throws -> [TrainingHeld] {
        try table.rows.enumerated().map { index, row in
            let line = index + 2
            guard let host = geography.resolve(name: row["host_city_lat"] ?? "") else {
                throw Problem("trainings line \(line): '\(row["host_city_lat"] ?? "")' is not a municipality")
            }
            func number(_ column: String) -> Int { Int(row[column] ?? "") ?? 0 }
            var bySector: [Sector: Int] = [:]
            for (column, sector) in [
                ("social_protection", Sector.socialProtection), ("education", .education), ("health", .health),
                ("police", .police), ("ngo", .ngo), ("judiciary", .judiciary), ("local_government", .localGovernment),
                ("red_cross", .redCross), ("other", .other),
            ] where number(column) > 0 {
                bySector[sector] = number(column)
            }
            let represented = (row["lsg_present"] ?? "").split(separator: ";").compactMap { geography.resolve(name: String($0))?.code }
            let date = row["date"] ?? ""
            return TrainingHeld(
                id: TrainingID(rawValue: Self.stableID("training|\(date)|\(host.code)")),
                date: date,
                host: host.code,
                participantsBySector: bySector,
                participants: number("participants"),
                women: number("women"),
                men: number("men"),
                municipalities: represented
            )
        }
    }

    public static func stableID(_ text: String) -> UUID {
        var bytes = Array(Data(text.utf8).sha256Prefix16)
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
    }
}

extension Data {
    fileprivate var sha256Prefix16: [UInt8] { Array(SHA256.hash(data: self).prefix(16)) }
}
