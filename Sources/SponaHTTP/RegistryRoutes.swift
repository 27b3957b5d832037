import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaProjections

/// Institutions, trainings, and the reference data clients need to fill their forms.
struct RegistryRoutes {
    let registry: RegistryService
    let database: PostgresClient
    let geography: Geography

    struct InstitutionBody: Decodable {
        var nameLatin: String
        var nameCyrillic: String?
        var sector: Sector
        var municipality: MunicipalityCode?
        var isCenter: Bool?
    }

    struct InstitutionView: ResponseEncodable {
        var id: InstitutionID
        var nameLatin: String
        var nameCyrillic: String?
        var sector: Sector
        var municipality: MunicipalityCode?
        var district: DistrictCode?
        var active: Bool
        var isCenter: Bool

        init(_ institution: Institution, geography: Geography) {
            id = institution.id
            nameLatin = institution.nameLatin
            nameCyrillic = institution.nameCyrillic
            sector = institution.sector
            municipality = institution.municipality
            district = institution.municipality.flatMap { geography.municipality($0) }?.district
            active = institution.isActive
            isCenter = institution.isCenter
        }
    }

    struct TrainingBody: Decodable {
        var date: String
        var host: MunicipalityCode
        var participants: Int
        var women: Int
        var men: Int
        var participantsBySector: [String: Int]?
        var municipalities: [MunicipalityCode]?
        var institutions: [InstitutionID]?
    }

    func register(on group: RouterGroup<SponaRequestContext>) {
        group.post("institutions") { request, context in
            let caller = try context.requireRole(.admin)
            let body = try await request.decode(as: InstitutionBody.self, context: context)
            let key = try request.idempotencyKey()
            let id = InstitutionID(rawValue: DerivedIDs(caller: caller, key: key).make("institution"))
            let details = InstitutionEvent.Details(
                id: id,
                nameLatin: body.nameLatin,
                nameCyrillic: body.nameCyrillic,
                sector: body.sector,
                municipality: body.municipality,
                isCenter: body.isCenter ?? false
            )
            let (institution, version) = try await registry.handle(
                .register(details),
                on: id,
                actor: caller.actor,
                requestID: context.requestIDText,
                idempotencyKey: key
            )
            return EditedResponse(
                status: .created,
                headers: [.location: "/v1/institutions/\(id)", .eTag: "\"\(version)\""],
                response: InstitutionView(institution, geography: geography)
            )
        }

        group.put("institutions/:institution") { request, context in
            let caller = try context.requireRole(.admin)
            let id = try institutionID(context)
            let body = try await request.decode(as: InstitutionBody.self, context: context)
            let details = InstitutionEvent.Details(
                id: id,
                nameLatin: body.nameLatin,
                nameCyrillic: body.nameCyrillic,
                sector: body.sector,
                municipality: body.municipality,
                isCenter: body.isCenter ?? Institution.isCenter(id)
            )
            return try await answer(
                registry.handle(
                    .update(details),
                    on: id,
                    actor: caller.actor,
                    requestID: context.requestIDText,
                    idempotencyKey: try request.idempotencyKey()
                )
            )
        }

        group.post("institutions/:institution/deactivate") { request, context in
            let caller = try context.requireRole(.admin)
            let body = try await request.decode(as: CaseRequests.Reason.self, context: context)
            return try await answer(
                registry.handle(
                    .deactivate(reason: body.reason ?? ""),
                    on: try institutionID(context),
                    actor: caller.actor,
                    requestID: context.requestIDText,
                    idempotencyKey: try request.idempotencyKey()
                )
            )
        }

        group.post("institutions/:institution/reactivate") { request, context in
            let caller = try context.requireRole(.admin)
            return try await answer(
                registry.handle(
                    .reactivate,
                    on: try institutionID(context),
                    actor: caller.actor,
                    requestID: context.requestIDText,
                    idempotencyKey: try request.idempotencyKey()
                )
            )
        }

        group.get("institutions") { request, context in
            _ = try context.requireCaller()
            try await requireLive([InstitutionsProjection.projectionName], database: database, logger: context.logger)
            let query = request.uri.queryParameters
            let district = query["district"].map(String.init)
            let sector = query["sector"].map(String.init)
            let municipality = query["municipality"].map(String.init)
            let page = try PageRequest(request, defaultLimit: PageRequest.maxLimit)
            var after: InstitutionID?
            if let cursor = page.after {
                guard let id = InstitutionID(cursor), try await InstitutionsProjection.contains(id, on: database, logger: context.logger) else {
                    throw Problem.invalid("'after' must be the 'next' value of a previous page")
                }
                after = id
            }
            let (institutions, more) = try await InstitutionsProjection.list(
                .init(district: district, sector: sector, municipality: municipality),
                after: after,
                limit: page.limit,
                on: database,
                logger: context.logger
            )
            // The list stays a JSON array (as it always was); the cursor travels in headers.
            var headers: HTTPFields = [:]
            if more, let last = institutions.last {
                let next = last.id.rawValue.uuidString.lowercased()
                headers[HTTPField.Name("Spona-Next-Page")!] = next
                func encoded(_ text: Substring) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
                var query = request.uri.queryParameters.filter { $0.key != "after" }.map { "\(encoded($0.key))=\(encoded($0.value))" }
                query.append("after=\(next)")
                headers[.link] = "</v1/institutions?\(query.joined(separator: "&"))>; rel=\"next\""
            }
            return EditedResponse(headers: headers, response: institutions.map { InstitutionView($0, geography: geography) })
        }

        group.post("trainings") { request, context in
            let caller = try context.requireRole(.admin, .coordinator)
            let body = try await request.decode(as: TrainingBody.self, context: context)
            var bySector: [Sector: Int] = [:]
            for (name, count) in body.participantsBySector ?? [:] {
                guard let sector = Sector(rawValue: name) else {
                    throw Problem.invalid("field 'participantsBySector.\(name)': '\(name)' is not a sector")
                }
                bySector[sector] = count
            }
            let key = try request.idempotencyKey()
            let training = TrainingHeld(
                id: TrainingID(rawValue: DerivedIDs(caller: caller, key: key).make("training")),
                date: body.date,
                host: body.host,
                participantsBySector: bySector,
                participants: body.participants,
                women: body.women,
                men: body.men,
                municipalities: body.municipalities ?? [],
                institutions: body.institutions ?? []
            )
            let written = try await registry.recordTraining(training, caller: caller, requestID: context.requestIDText)
            return EditedResponse(
                status: written ? .created : .ok,
                headers: [.location: "/v1/trainings/\(training.id)"],
                response: TrainingResource(training)
            )
        }

        group.get("municipalities") { _, context in
            _ = try context.requireCaller()
            return geography.municipalities.map(MunicipalityResource.init)
        }

        group.get("districts") { _, context in
            _ = try context.requireCaller()
            return geography.districts.map(DistrictResource.init)
        }

        group.get("indicators") { request, context in
            _ = try context.requireCaller()
            let catalogue = IndicatorCatalogue.current
            var indicators = Array(catalogue.indicators.values).sorted { $0.id < $1.id }
            if let sectorText = request.uri.queryParameters["sector"] {
                guard let sector = Sector(rawValue: String(sectorText)) else { throw Problem.invalid("'\(sectorText)' is not a sector") }
                indicators = catalogue.checklist(for: sector)
            }
            return IndicatorCatalogueResource(
                version: catalogue.version,
                ruleVersion: IndicatorCatalogue.ruleVersion,
                indicators: indicators.map(IndicatorCatalogueResource.Item.init)
            )
        }
    }

    private func institutionID(_ context: SponaRequestContext) throws -> InstitutionID {
        guard let id = context.parameters.get("institution").flatMap(InstitutionID.init) else {
            throw RegistryError.notRegistered(InstitutionID(rawValue: UUID()))
        }
        return id
    }

    private func answer(_ result: (institution: Institution, version: Int64)) -> EditedResponse<InstitutionView> {
        EditedResponse(headers: [.eTag: "\"\(result.version)\""], response: InstitutionView(result.institution, geography: geography))
    }
}

extension HTTPField.Name {
    /// RFC 8288: where the next page of a list is.
    static let link = Self("Link")!
}

// MARK: - The registry's and the reference data's API types

/// A training as the API shows it (`#/components/schemas/Training`).
struct TrainingResource: ResponseEncodable {
    var id: TrainingID
    var date: String
    var host: MunicipalityCode
    var participantsBySector: [String: Int]
    var participants: Int
    var women: Int
    var men: Int
    var municipalities: [MunicipalityCode]
    var institutions: [InstitutionID]

    init(_ training: TrainingHeld) {
        id = training.id
        date = training.date
        host = training.host
        participantsBySector = Dictionary(uniqueKeysWithValues: training.participantsBySector.map { ($0.key.rawValue, $0.value) })
        participants = training.participants
        women = training.women
        men = training.men
        municipalities = training.municipalities
        institutions = training.institutions
    }
}

/// A municipality of the reference data (`#/components/schemas/Municipality`).
struct MunicipalityResource: ResponseEncodable {
    var code: MunicipalityCode
    var district: DistrictCode
    var kind: String
    var nameLatin: String
    var nameCyrillic: String
    var parent: MunicipalityCode?

    init(_ municipality: Municipality) {
        code = municipality.code
        district = municipality.district
        kind = municipality.kind.rawValue
        nameLatin = municipality.nameLatin
        nameCyrillic = municipality.nameCyrillic
        parent = municipality.parent
    }
}

/// A district (`#/components/schemas/District`).
struct DistrictResource: ResponseEncodable {
    var code: DistrictCode
    var nameLatin: String
    var nameCyrillic: String

    init(_ district: District) {
        code = district.code
        nameLatin = district.nameLatin
        nameCyrillic = district.nameCyrillic
    }
}

/// The indicator catalogue a checklist is drawn from (`#/components/schemas/IndicatorCatalogue`).
struct IndicatorCatalogueResource: ResponseEncodable {
    var version: String
    var ruleVersion: String
    var indicators: [Item]

    struct Item: Encodable {
        var id: IndicatorID
        var element: String
        var strength: String
        var text: String
        /// Sorted: the same catalogue always gives the same bytes.
        var sectors: [Sector]

        init(_ indicator: Indicator) {
            id = indicator.id
            element = indicator.element.rawValue
            strength = indicator.strength.rawValue
            text = indicator.text
            sectors = indicator.sectors.sorted { $0.rawValue < $1.rawValue }
        }
    }
}
