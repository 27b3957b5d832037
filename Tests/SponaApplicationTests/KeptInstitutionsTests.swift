import Foundation
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaRecords
import SponaTestSupport
import Testing

/// Case decisions keep the institutions they read in memory; a copy that another process has
/// made stale must never decide a command, in either direction.
@Suite("Institutions kept in memory by case decisions")
struct KeptInstitutionsTests {
    static let geography: Geography = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try! ReferenceData.geography(in: root.appendingPathComponent("Reference"))
    }()

    static func report(_ id: CaseID) -> CaseCommand {
        .fileReport(
            .init(
                caseID: id,
                municipality: MunicipalityCode(rawValue: "prokuplje"),
                channel: .app,
                subject: SubjectProfile(ageGroup: .child14to17, gender: .female)
            )
        )
    }

    @Test(
        "a school deactivated by another process is refused although this one kept it active; reactivated, it is accepted although this one kept it inactive"
    )
    func staleCopiesNeverDecide() async throws {
        try await TestDatabase.withFresh { db in
            let registry = RegistryService(store: db.store, geography: Self.geography)
            let admin = Actor(id: "admin", institution: .center, role: .admin)
            let school = InstitutionID()
            try await registry.handle(
                .register(.init(id: school, nameLatin: "OŠ Prokuplje", sector: .education, municipality: MunicipalityCode(rawValue: "prokuplje"))),
                on: school,
                actor: admin,
                requestID: "test",
                idempotencyKey: nil
            )
            // This process's case service; the registry below stands for another process.
            let cases = CaseService(store: db.store, geography: Self.geography)
            let reporter = Caller(actor: Actor(id: "reporter", institution: school, role: .reporter), isCenter: false)
            func file(_ key: String) async throws -> CaseSnapshot {
                let id = CaseID()
                return try await cases.handle(Self.report(id), on: id, expectedVersion: nil, caller: reporter, requestID: key, idempotencyKey: key)
            }

            _ = try await file("first")
            let eventsBefore = try await db.eventCount()

            try await registry.handle(.deactivate(reason: "closed"), on: school, actor: admin, requestID: "test", idempotencyKey: nil)
            await #expect(throws: CaseError.inactiveInstitution(school, name: "OŠ Prokuplje")) {
                _ = try await file("second")
            }
            #expect(try await db.eventCount() == eventsBefore + 1, "only the deactivation was written")

            try await registry.handle(.reactivate, on: school, actor: admin, requestID: "test", idempotencyKey: nil)
            let third = try await file("third")
            #expect(third.case.version == 1)
            #expect(try await db.eventCount() == eventsBefore + 3)
        }
    }
}
