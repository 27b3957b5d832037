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

    struct InstitutionView: Encodable {
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
            var response = try JSONResponse.make(InstitutionView(institution, geography: geography), status: .created)
            response.headers[.location] = "/v1/institutions/\(id)"
            response.headers[.eTag] = "\"\(version)\""
            return response
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
            var response = try JSONResponse.make(institutions.map { InstitutionView($0, geography: geography) }, status: .ok)
            // The list stays a JSON array (as it always was); the cursor travels in headers.
            if more, let last = institutions.last {
                let next = last.id.rawValue.uuidString.lowercased()
                response.headers[HTTPField.Name("Spona-Next-Page")!] = next
                func encoded(_ text: Substring) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
                var query = request.uri.queryParameters.filter { $0.key != "after" }.map { "\(encoded($0.key))=\(encoded($0.value))" }
                query.append("after=\(next)")
                response.headers[.link] = "</v1/institutions?\(query.joined(separator: "&"))>; rel=\"next\""
            }
            return response
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
            var response = try JSONResponse.make(training, status: written ? .created : .ok)
            response.headers[.location] = "/v1/trainings/\(training.id)"
            return response
        }

        group.get("municipalities") { _, context in
            _ = try context.requireCaller()
            return try JSONResponse.make(geography.municipalities, status: .ok)
        }

        group.get("districts") { _, context in
            _ = try context.requireCaller()
            return try JSONResponse.make(geography.districts, status: .ok)
        }

        group.get("indicators") { request, context in
            _ = try context.requireCaller()
            let catalogue = IndicatorCatalogue.current
            var indicators = Array(catalogue.indicators.values).sorted { $0.id < $1.id }
            if let sectorText = request.uri.queryParameters["sector"] {
                guard let sector = Sector(rawValue: String(sectorText)) else { throw Problem.invalid("'\(sectorText)' is not a sector") }
                indicators = catalogue.checklist(for: sector)
            }
            struct Catalogue: Encodable {
                var version: String
                var ruleVersion: String
                var indicators: [Indicator]
            }
            return try JSONResponse.make(
                Catalogue(version: catalogue.version, ruleVersion: IndicatorCatalogue.ruleVersion, indicators: indicators),
                status: .ok
            )
        }
    }

    private func institutionID(_ context: SponaRequestContext) throws -> InstitutionID {
        guard let id = context.parameters.get("institution").flatMap(InstitutionID.init) else {
            throw RegistryError.notRegistered(InstitutionID(rawValue: UUID()))
        }
        return id
    }

    private func answer(_ result: (institution: Institution, version: Int64)) throws -> Response {
        var response = try JSONResponse.make(InstitutionView(result.institution, geography: geography), status: .ok)
        response.headers[.eTag] = "\"\(result.version)\""
        return response
    }
}

extension HTTPField.Name {
    /// RFC 8288: where the next page of a list is.
    static let link = Self("Link")!
}
