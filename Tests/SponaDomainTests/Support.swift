import Foundation

@testable import SponaDomain

/// The package root, found from this file: tests read the data the project ships.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func text(_ path: String) throws -> String {
    try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
}

let geography: Geography = {
    try! Geography(
        districtsCSV: text("Reference/districts.csv"),
        municipalitiesCSV: text("Reference/municipalities.csv"),
        aliasesCSV: text("Reference/place-aliases.csv")
    )
}()

/// A small network: the Center, a school in Prokuplje, its social work centre and police,
/// a health centre, and an institution that closed.
struct Network {
    let center = Institution(
        id: InstitutionID(),
        nameLatin: "Centar za zaštitu žrtava trgovine ljudima",
        sector: .socialProtection,
        municipality: nil,
        isCenter: true
    )
    let school = Institution(
        id: InstitutionID(),
        nameLatin: "OŠ Prokuplje",
        sector: .education,
        municipality: MunicipalityCode(rawValue: "prokuplje")
    )
    let socialWork = Institution(
        id: InstitutionID(),
        nameLatin: "CSR Prokuplje",
        sector: .socialProtection,
        municipality: MunicipalityCode(rawValue: "prokuplje")
    )
    let police = Institution(id: InstitutionID(), nameLatin: "PU Prokuplje", sector: .police, municipality: MunicipalityCode(rawValue: "prokuplje"))
    let health = Institution(
        id: InstitutionID(),
        nameLatin: "Dom zdravlja Prokuplje",
        sector: .health,
        municipality: MunicipalityCode(rawValue: "prokuplje")
    )
    let closed = Institution(
        id: InstitutionID(),
        nameLatin: "Zatvorena ustanova",
        sector: .ngo,
        municipality: MunicipalityCode(rawValue: "nis"),
        isActive: false
    )
    let outsider = Institution(
        id: InstitutionID(),
        nameLatin: "Škola u Subotici",
        sector: .education,
        municipality: MunicipalityCode(rawValue: "subotica")
    )

    var all: [InstitutionID: Institution] {
        Dictionary(uniqueKeysWithValues: [center, school, socialWork, police, health, closed, outsider].map { ($0.id, $0) })
    }

    func context(_ institution: Institution, role: Role? = nil, now: Date) -> DecisionContext {
        DecisionContext(
            actor: Actor(
                id: "token-\(institution.nameLatin.prefix(6))",
                institution: institution.id,
                role: role ?? (institution.isCenter ? .coordinator : .reporter)
            ),
            now: now,
            institutions: all,
            geography: geography
        )
    }
}

/// A case and its history, advanced by commands the way the application layer does it.
struct Journey {
    let network: Network
    var history: [(event: CaseEvent, at: Date)] = []
    var now = Date(timeIntervalSince1970: 1_743_500_000)  // early April 2025

    var state: Case? { Case.replay(history) }

    @discardableResult
    mutating func run(_ command: CaseCommand, as institution: Institution, role: Role? = nil) throws(CaseError) -> [CaseEvent] {
        now += 3600
        let events = try CaseDecider.decide(command, on: state, context: network.context(institution, role: role, now: now))
        history += events.map { ($0, now) }
        return events
    }
}
