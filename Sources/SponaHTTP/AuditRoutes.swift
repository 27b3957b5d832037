import Crypto
import Foundation
import Hummingbird
import NIOCore
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaRecords

/// `/v1/audit/…`: for auditors. The whole history as NDJSON, a stream as it stood at a moment,
/// the seals and the proof that one extends another, a verification run, and the read trail.
/// Every one of these reads is itself recorded.
struct AuditRoutes {
    let audit: AuditService
    let store: PostgresEventStore
    /// Signs seals on demand and tells the public key; nil when no seal key is configured.
    let sealer: HistorySealer?
    /// The current seal key's public key first, then those rotated away from.
    let publicKeys: [Curve25519.Signing.PublicKey]

    static let ndjson = "application/x-ndjson"

    func register(on group: RouterGroup<SponaRequestContext>) {
        group.get("audit/events") { request, context in
            let caller = try context.requireRole(.auditor)
            let query = request.uri.queryParameters
            let cursor = try query["after"].map { try EventCursor(parsing: String($0)) } ?? .start
            var limit = Int.max
            if let text = query["limit"] {
                guard let value = Int(text), value >= 1 else { throw Problem.invalid("'limit' must be a whole number from 1, not '\(text)'") }
                limit = value
            }
            let filter = AuditFilter(
                category: query["category"].map(String.init),
                types: query.getAll("type").map { String($0) },
                from: try Self.time(query["from"].map(String.init), "from"),
                to: try Self.time(query["to"].map(String.init), "to")
            )
            var detail = ["after": cursor.description]
            if let category = filter.category { detail["category"] = category }
            if !filter.types.isEmpty { detail["types"] = filter.types.joined(separator: ",") }
            try await audit.recordQuery("events", detail: detail, caller: caller, requestID: context.requestIDText)
            let store = self.store
            let most = limit
            // Streamed page by page: memory stays flat however long the history.
            let body = ResponseBody { writer in
                var next = cursor
                var left = most
                var buffer = ByteBuffer()
                while left > 0 {
                    let page = try await store.auditPage(after: next, limit: min(left, 1000), filter: filter)
                    guard let last = page.last else { break }
                    buffer.clear()
                    for audited in page { AuditLine.encode(audited, into: &buffer) }
                    try await writer.write(buffer)
                    left -= page.count
                    next = last.event.cursor
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: Self.ndjson, .cacheControl: "no-store"], body: body)
        }

        group.get("audit/streams/:stream") { request, context in
            let caller = try context.requireRole(.auditor)
            let name = try context.parameters.require("stream")
            let stream: StreamID
            do { stream = try StreamID(name) } catch { throw Problem.invalid("'\(name)' is not a stream id") }
            var moment: AuditService.Moment?
            if let text = request.uri.queryParameters["asOf"].map(String.init) {
                guard let parsed = AuditService.Moment(parsing: text) else {
                    throw Problem.invalid(
                        "'asOf' is a time (2026-03-01T12:00:00Z, or 2026-03-01 for the end of that day) or a position, not '\(text)'"
                    )
                }
                moment = parsed
            }
            let (events, state) = try await audit.stream(stream, asOf: moment, caller: caller, requestID: context.requestIDText)
            var out = ByteBuffer()
            out.writeString(#"{"stream":"#)
            AuditLine.writeJSONString(stream.rawValue, into: &out)
            out.writeString(#","version":\#(events.last?.version ?? 0),"state":"#)
            switch state {
            case .case(let value): out.writeBytes(try Self.encoder.encode(CaseResource(value, texts: CaseService.unopenedTexts(of: value))))
            case .institution(let value): out.writeBytes(try Self.encoder.encode(value))
            case .none: out.writeString("null")
            }
            out.writeString(#","events":["#)
            var lines = ByteBuffer()
            for (index, event) in events.enumerated() {
                if index > 0 { out.writeString(",") }
                lines.clear()
                AuditLine.encode(AuditedEvent(event: event, previousHash: index > 0 ? events[index - 1].hash : nil), into: &lines)
                out.writeBytes(lines.readableBytesView.dropLast())  // the line without its newline
            }
            out.writeString("]}")
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: out))
        }

        group.get("audit/seals") { _, context in
            _ = try context.requireRole(.auditor)
            let seals = try await store.seals()
            let body = SealList(
                publicKey: publicKeys.first?.rawRepresentation.base64EncodedString(),
                previousPublicKeys: publicKeys.dropFirst().map { $0.rawRepresentation.base64EncodedString() },
                seals: seals.map(SealView.init)
            )
            return try Self.json(body)
        }

        group.post("audit/seals") { _, context in
            _ = try context.requireRole(.auditor, .admin)
            guard let sealer else {
                throw Problem(
                    .serviceUnavailable,
                    type: "urn:spona:problem:no-seal-key",
                    title: "No seal key",
                    detail: "this server has no seal key (SPONA_SEAL_KEY_FILE); it cannot sign seals"
                )
            }
            guard let seal = try await sealer.seal() else {
                return try Self.json(["result": "nothing new to seal"])
            }
            var response = try Self.json(SealView(seal))
            response.status = .created
            return response
        }

        group.get("audit/seals/consistency") { request, context in
            _ = try context.requireRole(.auditor)
            func size(_ name: String) throws -> Int {
                guard let text = request.uri.queryParameters[Substring(name)], let value = Int(text), value >= 1 else {
                    throw Problem.invalid("'\(name)' must be a tree size (a seal's treeSize), a whole number from 1")
                }
                return value
            }
            let first = try size("first")
            let second = try size("second")
            guard first <= second else { throw Problem.invalid("'first' must not be larger than 'second'") }
            // The size is checked against the history before anything is set aside for it: a
            // tree larger than the history does not exist, whatever number is asked for.
            let stored = try await store.backlog(after: .start).events
            guard Int64(second) <= stored else {
                throw Problem(
                    .notFound,
                    type: "urn:spona:problem:not-found",
                    title: "No such tree",
                    detail: "the history has \(stored) events, fewer than \(second)"
                )
            }
            // The leaves of the larger tree: 32 bytes an event.
            var leaves: [MerkleTree.Hash] = []
            leaves.reserveCapacity(second)
            var cursor = EventCursor.start
            while leaves.count < second {
                let page = try await store.readAll(after: cursor, limit: min(5000, second - leaves.count))
                guard let last = page.last else { break }
                leaves += page.map { MerkleTree.leaf($0.hash) }
                cursor = last.cursor
            }
            guard leaves.count == second else {
                throw Problem(
                    .notFound,
                    type: "urn:spona:problem:not-found",
                    title: "No such tree",
                    detail: "the history below the read horizon has \(leaves.count) events, fewer than \(second)"
                )
            }
            let proof = MerkleTree.consistencyProof(from: first, leaves: leaves)
            return try Self.json(
                Consistency(
                    first: .init(treeSize: first, root: Hex.encode(MerkleTree.root(leaves.prefix(first)))),
                    second: .init(treeSize: second, root: Hex.encode(MerkleTree.root(leaves[...]))),
                    proof: proof.map(Hex.encode)
                )
            )
        }

        group.get("audit/verify") { _, context in
            let caller = try context.requireRole(.auditor)
            try await audit.recordQuery("verify", detail: [:], caller: caller, requestID: context.requestIDText)
            let verifier = try await store.verifyHistory(publicKeys: publicKeys)
            return try Self.json(
                Verification(
                    intact: verifier.isIntact,
                    events: verifier.events,
                    streams: verifier.streams,
                    sealsChecked: verifier.sealsChecked,
                    signaturesChecked: verifier.signaturesChecked,
                    findings: verifier.findings.map(\.description)
                )
            )
        }

        group.get("audit/access") { request, context in
            let caller = try context.requireRole(.auditor)
            let query = request.uri.queryParameters
            switch (query["case"].map(String.init), query["actor"].map(String.init)) {
            case (let text?, nil):
                guard let id = CaseID(text) else { throw Problem.invalid("'case' must be a case id (a UUID), not '\(text)'") }
                let records = try await audit.access(toCase: id, caller: caller, requestID: context.requestIDText)
                return try Self.json(AccessList(records: records, next: nil))
            case (nil, let actor?):
                let cursor = try query["after"].map { try EventCursor(parsing: String($0)) } ?? .start
                let (records, next) = try await audit.access(
                    byActor: actor,
                    after: cursor,
                    limit: 1000,
                    caller: caller,
                    requestID: context.requestIDText
                )
                return try Self.json(AccessList(records: records, next: next?.description))
            default:
                throw Problem.invalid("ask for one of 'case' (who read this case) or 'actor' (what this actor read)")
            }
        }
    }

    /// The events' own coding: the feed's payloads read as they were written.
    static var encoder: JSONEncoder { EventCoding.encoder }

    static func json(_ value: some Encodable) throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value)))
        )
    }

    static func time(_ text: String?, _ name: String) throws -> Date? {
        guard let text else { return nil }
        guard let date = ISO8601.date(from: text) else { throw Problem.invalid("'\(name)' must be a time like 2026-03-01T12:00:00Z, not '\(text)'") }
        return date
    }

    struct SealView: Encodable {
        var treeSize: Int64
        var root: String
        var lastCursor: String
        var sealedAt: Date
        var keyID: String
        var signature: String
        init(_ seal: Seal) {
            treeSize = seal.treeSize
            root = seal.root
            lastCursor = seal.lastCursor.description
            sealedAt = seal.sealedAt
            keyID = seal.keyID
            signature = seal.signature
        }
    }

    struct SealList: Encodable {
        var publicKey: String?
        var previousPublicKeys: [String]
        var seals: [SealView]
    }

    struct Consistency: Encodable {
        struct Head: Encodable {
            var treeSize: Int
            var root: String
        }
        var first: Head
        var second: Head
        var proof: [String]
    }

    struct Verification: Encodable {
        var intact: Bool
        var events: Int
        var streams: Int
        var sealsChecked: Int
        var signaturesChecked: Bool
        var findings: [String]
    }

    struct AccessList: Encodable {
        var records: [AuditService.AccessRecord]
        var next: String?
    }
}
