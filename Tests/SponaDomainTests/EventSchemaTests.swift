import Foundation
import SponaDomain
import Testing

/// How an event type changes shape without touching what is stored: each old version is
/// carried to the current one by pure functions, in order.
@Suite("Event schema evolution")
struct EventSchemaTests {
    /// A made-up history of one type: v2 renamed `place` to `municipality`, v3 added a
    /// required `channel` that every older report is taken to have come by (`unknown`).
    static let schemas = EventSchemas(
        family: "test",
        [
            "Reported": .init(
                current: 3,
                upcasters: [
                    1: { old in
                        var new = old
                        new["municipality"] = old["place"]
                        new["place"] = nil
                        return new
                    },
                    2: { old in
                        var new = old
                        new["channel"] = .string("unknown")
                        return new
                    },
                ]
            ),
            "Closed": .init(current: 1),
        ]
    )

    struct Reported: Decodable, Equatable {
        var municipality: String
        var channel: String
    }

    func decode(_ version: Int32, _ json: String) throws -> Reported {
        try JSONDecoder().decode(Reported.self, from: try Self.schemas.upcast(type: "Reported", version: version, payload: Data(json.utf8)))
    }

    @Test("a payload of any past version reads as the current shape, through every upcaster in turn")
    func upcastsThroughEveryVersion() throws {
        #expect(try decode(1, #"{"place":"prokuplje"}"#) == Reported(municipality: "prokuplje", channel: "unknown"))
        #expect(try decode(2, #"{"municipality":"prokuplje"}"#) == Reported(municipality: "prokuplje", channel: "unknown"))
        #expect(try decode(3, #"{"municipality":"prokuplje","channel":"app"}"#) == Reported(municipality: "prokuplje", channel: "app"))
    }

    @Test("the current version's bytes are read as stored, untouched")
    func currentIsUntouched() throws {
        let stored = Data(#"{"municipality": "prokuplje",  "channel": "app"}"#.utf8)
        #expect(try Self.schemas.upcast(type: "Reported", version: 3, payload: stored) == stored)
    }

    @Test("a version newer than the code, an unknown type or version, and a missing upcaster are refused by name")
    func refusals() {
        #expect(throws: EventSchemaError.writtenByNewerCode(type: "Reported", version: 4, known: 3)) {
            try Self.schemas.upcast(type: "Reported", version: 4, payload: Data("{}".utf8))
        }
        #expect(throws: EventSchemaError.unknownType(family: "test", type: "Opened")) {
            try Self.schemas.upcast(type: "Opened", version: 1, payload: Data("{}".utf8))
        }
        #expect(throws: EventSchemaError.unknownVersion(type: "Reported", version: 0)) {
            try Self.schemas.upcast(type: "Reported", version: 0, payload: Data("{}".utf8))
        }
        let gap = EventSchemas(family: "test", ["Reported": .init(current: 3, upcasters: [2: { $0 }])])
        #expect(gap.missingUpcasters.map(\.version) == [1])
        #expect(throws: EventSchemaError.missingUpcaster(type: "Reported", version: 1)) {
            try gap.upcast(type: "Reported", version: 1, payload: Data("{}".utf8))
        }
        #expect(Self.schemas.missingUpcasters.isEmpty)
    }

    @Test("every case event type has a schema")
    func caseEventsHaveSchemas() {
        #expect(CaseEvent.schemas.types.count == 21)
        #expect(CaseEvent.schemas.missingUpcasters.isEmpty)
    }
}
