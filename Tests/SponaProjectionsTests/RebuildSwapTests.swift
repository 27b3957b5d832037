import Foundation
import PostgresNIO
import SponaEventStore
import SponaProjections
import SponaTestSupport
import Testing

@Suite("Swapping a rebuilt read model in")
struct RebuildSwapTests {
    @Test("a rebuilt table keeps the live table's triggers, and servers are told of the swap")
    func swapKeepsTriggers() async throws {
        try await TestDatabase.withFresh { db in
            func triggers() async throws -> [String] {
                var names: [String] = []
                let rows = try await db.owner.query(
                    "SELECT tgname::text FROM pg_trigger WHERE tgrelid = 'public.institutions'::regclass AND NOT tgisinternal ORDER BY 1",
                    logger: db.logger
                )
                for try await name in rows.decode(String.self) { names.append(name) }
                return names
            }
            let before = try await triggers()
            #expect(before == ["institutions_changed"])
            try await db.app.withConnection { connection in
                try await connection.listen(on: "spona_projection_swapped") { swaps in
                    _ = try await ProjectionRebuild(owner: db.owner, store: db.store, logger: db.logger)
                        .rebuild(InstitutionsProjection(geography: Desk.geography))
                    var heard: String?
                    for try await notification in swaps {
                        heard = notification.payload
                        break
                    }
                    #expect(heard == InstitutionsProjection.projectionName)
                }
            }
            #expect(try await triggers() == before)
        }
    }
}
