import Foundation
import PostgresNIO

/// Runs a read model's query: on the live tables, or on the tables of a replay (as-of views).
public typealias TableReader = @Sendable (PostgresQuery) async throws -> PostgresRowSequence

/// The statistics tables as the views read them: the projection that writes them owns the
/// queries and the row types, and no route runs SQL of its own.
extension CaseStatisticsProjection {
    /// A municipality's figures in a month, with each count's cell key; the metrics in the
    /// order reports, children, high risk, referrals sent, identified victims, reports by
    /// trained staff.
    public struct MunicipalityMonth: Sendable {
        public var municipality: String
        public var month: String
        public var counts: [Int]
        public var keys: [Int64]
    }

    public static func municipalityMonths(
        _ municipalities: [String],
        from: String,
        to: String,
        through: String,
        read: TableReader
    ) async throws -> [MunicipalityMonth] {
        let rows = try await read(
            """
            SELECT municipality, month, reports, children, high_risk, referrals_sent, identified_victims, reports_by_trained,
                   reports_key, children_key, high_risk_key, referrals_sent_key, identified_victims_key, reports_by_trained_key
            FROM view_municipality_month
            WHERE month >= \(from) AND month <= \(to) AND month <= \(through) AND municipality = ANY(\(municipalities))
            ORDER BY month, municipality
            """
        )
        var result: [MunicipalityMonth] = []
        for try await row in rows.decode((String, String, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self) {
            result.append(
                MunicipalityMonth(
                    municipality: row.0,
                    month: row.1,
                    counts: [row.2, row.3, row.4, row.5, row.6, row.7].map(Int.init),
                    keys: [row.8, row.9, row.10, row.11, row.12, row.13]
                )
            )
        }
        return result
    }

    /// The last month (up to `through`) each of `municipalities` had a report in.
    public static func lastReportMonths(_ municipalities: [String], through: String, read: TableReader) async throws -> [String: String] {
        let rows = try await read(
            """
            SELECT municipality, max(month) FROM view_municipality_month
            WHERE reports > 0 AND month <= \(through) AND municipality = ANY(\(municipalities)) GROUP BY municipality
            """
        )
        var last: [String: String] = [:]
        for try await (code, month) in rows.decode((String, String).self) { last[code] = month }
        return last
    }

    public struct TrainingRow: Sendable {
        public var id: UUID
        /// "YYYY-MM-DD"
        public var heldOn: String
        public var host: String
        public var participants: Int
        public var municipalities: [String]
    }

    public static func trainings(read: TableReader) async throws -> [TrainingRow] {
        let rows = try await read("SELECT training_id, held_on::text, host, participants, municipalities FROM view_trainings")
        var result: [TrainingRow] = []
        for try await (id, heldOn, host, participants, named) in rows.decode((UUID, String, String, Int64, [String]).self) {
            result.append(TrainingRow(id: id, heldOn: heldOn, host: host, participants: Int(participants), municipalities: named))
        }
        return result
    }

    /// Reports and reports by trained staff, with their cell keys, per municipality and month.
    public struct ReportMonth: Sendable {
        public var municipality: String
        public var month: String
        public var reports: Int
        public var reportsKey: Int64
        public var byTrained: Int
        public var byTrainedKey: Int64
    }

    public static func reportMonths(_ municipalities: [String], through: String, read: TableReader) async throws -> [ReportMonth] {
        let rows = try await read(
            """
            SELECT municipality, month, reports, reports_key, reports_by_trained, reports_by_trained_key FROM view_municipality_month
            WHERE municipality = ANY(\(municipalities)) AND month <= \(through)
            """
        )
        var result: [ReportMonth] = []
        for try await (code, month, reports, reportsKey, byTrained, byTrainedKey) in rows.decode((String, String, Int64, Int64, Int64, Int64).self) {
            result.append(
                ReportMonth(
                    municipality: code,
                    month: month,
                    reports: Int(reports),
                    reportsKey: reportsKey,
                    byTrained: Int(byTrained),
                    byTrainedKey: byTrainedKey
                )
            )
        }
        return result
    }

    public struct SectorFlow: Sendable {
        public var from: String
        public var to: String
        public var month: String
        public var referrals: Int
        /// Of them, or of earlier months' referrals, declined by the receiver in this month.
        public var declined: Int
    }

    /// Referrals between sectors, where either end is one of `sectors`.
    public static func sectorFlows(from: String, to: String, sectors: [String], read: TableReader) async throws -> [SectorFlow] {
        let rows = try await read(
            """
            SELECT from_sector, to_sector, month, referrals, declined FROM view_sector_flows
            WHERE month >= \(from) AND month <= \(to) AND (from_sector = ANY(\(sectors)) OR to_sector = ANY(\(sectors)))
            ORDER BY month, from_sector, to_sector
            """
        )
        var result: [SectorFlow] = []
        for try await (fromSector, toSector, month, referrals, declined) in rows.decode((String, String, String, Int64, Int64).self) {
            result.append(SectorFlow(from: fromSector, to: toSector, month: month, referrals: Int(referrals), declined: Int(declined)))
        }
        return result
    }

    public struct PlaceFlow: Sendable {
        public var from: String
        public var to: String
        public var month: String
        public var cases: Int
        public var key: Int64
    }

    /// Cases recruited in one place and exploited in another, where either end is one of `places`.
    public static func placeFlows(from: String, to: String, through: String, places: [String], read: TableReader) async throws -> [PlaceFlow] {
        let rows = try await read(
            """
            SELECT from_place, to_place, month, cases, cases_key FROM view_place_flows
            WHERE month >= \(from) AND month <= \(to) AND month <= \(through)
              AND (from_place = ANY(\(places)) OR to_place = ANY(\(places)))
            ORDER BY month, from_place, to_place
            """
        )
        var result: [PlaceFlow] = []
        for try await (fromPlace, toPlace, month, cases, key) in rows.decode((String, String, String, Int64, Int64).self) {
            result.append(PlaceFlow(from: fromPlace, to: toPlace, month: month, cases: Int(cases), key: key))
        }
        return result
    }

    public struct SectorMonth: Sendable {
        public var sector: String
        public var month: String
        public var reports: Int
        public var referralsSent: Int
        public var referralsReceived: Int
    }

    public static func sectorMonths(from: String, to: String, sectors: [String], read: TableReader) async throws -> [SectorMonth] {
        let rows = try await read(
            """
            SELECT sector, month, reports, referrals_sent, referrals_received FROM view_sector_month
            WHERE month >= \(from) AND month <= \(to) AND sector = ANY(\(sectors)) ORDER BY month, sector
            """
        )
        var result: [SectorMonth] = []
        for try await (sector, month, reports, sent, received) in rows.decode((String, String, Int64, Int64, Int64).self) {
            result.append(
                SectorMonth(sector: sector, month: month, reports: Int(reports), referralsSent: Int(sent), referralsReceived: Int(received))
            )
        }
        return result
    }

    /// One cell of a breakdown: a value's count in a municipality and month, with its cell key.
    public struct BreakdownCell: Sendable {
        public var municipality: String
        public var month: String
        public var value: String
        public var count: Int
        public var key: Int64
    }

    public static func breakdownCells(
        _ dimension: Breakdown.Dimension,
        _ municipalities: [String],
        from: String,
        to: String,
        through: String,
        read: TableReader
    ) async throws -> [BreakdownCell] {
        let rows = try await read(
            """
            SELECT municipality, month, value, count, count_key FROM view_breakdown_month
            WHERE dimension = \(dimension.rawValue) AND month >= \(from) AND month <= \(to) AND month <= \(through)
              AND municipality = ANY(\(municipalities))
            ORDER BY month, municipality, value
            """
        )
        var result: [BreakdownCell] = []
        for try await (municipality, month, value, count, key) in rows.decode((String, String, String, Int64, Int64).self) {
            result.append(BreakdownCell(municipality: municipality, month: month, value: value, count: Int(count), key: key))
        }
        return result
    }

    /// Waits summed up for a place: how many, the median and the 90th percentile in seconds.
    public struct WaitFigures: Sendable {
        public var kind: String
        /// Nil on a district's or the nation's row.
        public var municipality: String?
        /// Nil on the nation's row.
        public var district: String?
        public var count: Int
        public var median: Double
        public var p90: Double
    }

    /// The waits of `from`…`to` per municipality, per district and for the nation (each
    /// percentile computed over its own waits: percentiles do not add up).
    public static func waits(
        from: String,
        to: String,
        districtOf places: [(municipality: String, district: String)],
        read: TableReader
    ) async throws
        -> [WaitFigures]
    {
        let rows = try await read(
            """
            SELECT w.kind, d.district, w.municipality, count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY w.seconds), percentile_cont(0.9) WITHIN GROUP (ORDER BY w.seconds),
                   GROUPING(d.district), GROUPING(w.municipality)
            FROM stat_waits w
            JOIN unnest(\(places.map(\.municipality))::text[], \(places.map(\.district))::text[]) AS d(municipality, district)
              ON d.municipality = w.municipality
            WHERE w.month >= \(from) AND w.month <= \(to)
            GROUP BY GROUPING SETS ((w.kind, d.district, w.municipality), (w.kind, d.district), (w.kind))
            ORDER BY 1, 2 NULLS FIRST, 3 NULLS FIRST
            """
        )
        var result: [WaitFigures] = []
        for try await (kind, district, municipality, count, median, p90, noDistrict, noMunicipality) in rows.decode(
            (String, String?, String?, Int64, Double, Double, Int32, Int32).self
        ) {
            result.append(
                WaitFigures(
                    kind: kind,
                    municipality: noMunicipality == 1 ? nil : municipality,
                    district: noDistrict == 1 ? nil : district,
                    count: Int(count),
                    median: median,
                    p90: p90
                )
            )
        }
        return result
    }
}
