import Crypto
import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import SponaEventStore
import Testing

@Suite("Auditors")
struct AuditTests {
    static func allReadable(_ api: APIHarness) async throws {
        #expect(try await api.db.waitUntilReadable(), "the read horizon did not pass the last event")
    }

    @Test("the whole history as NDJSON, by pages and filtered, each line checkable on its own")
    func eventsFeed() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            for _ in 0..<3 { _ = try await n.fileReport() }
            let auditor = try await api.token(.center, .auditor)
            try await Self.allReadable(api)
            let stored = try await api.db.eventCount()

            let all = try await api.send(.get, "/v1/audit/events", token: auditor)
            #expect(all.status == .ok)
            #expect(all.headers[.contentType] == "application/x-ndjson")
            let lines = all.text.split(separator: "\n")
            #expect(lines.count >= stored)  // and the record of this very query, once it is below the horizon
            var verifier = HistoryVerifier(seals: [], publicKey: nil)
            for line in lines {
                let audited = try AuditLine.decode(Array(line.utf8))
                verifier.check(audited.event, claimedPrevious: .some(audited.previousHash))
            }
            #expect(verifier.findings == [])

            // Two at a time, each page after the last line's cursor, gives the same lines.
            var paged: [Substring] = []
            var after: String?
            while true {
                let page = try await api.send(.get, "/v1/audit/events?limit=2" + (after.map { "&after=\($0)" } ?? ""), token: auditor)
                let pageLines = page.text.split(separator: "\n")
                guard let last = pageLines.last else { break }
                paged += pageLines
                after = try AuditLine.decode(Array(last.utf8)).event.cursor.description
                if paged.count >= lines.count { break }
            }
            #expect(Array(paged.prefix(lines.count)) == lines)

            let reports = try await api.send(.get, "/v1/audit/events?category=case&type=ReportFiled", token: auditor)
            let filed = try reports.text.split(separator: "\n").map { try AuditLine.decode(Array($0.utf8)).event }
            #expect(filed.count == 3 && filed.allSatisfy { $0.type == "ReportFiled" && $0.streamID.category == "case" })

            // Only auditors; bad parameters are named.
            #expect(try await api.send(.get, "/v1/audit/events", token: n.coordinator).status == .forbidden)
            #expect(try await api.send(.get, "/v1/audit/events?after=yesterday", token: auditor).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/audit/events?limit=0", token: auditor).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/audit/events?from=monday", token: auditor).status == .unprocessableContent)

            // Each feed query is itself on record.
            let trail = try await api.db.store.readStream(AuditService.auditStream)
            #expect(trail.count >= 4)
        }
    }

    @Test("a stream as it stood at a moment, and the auditor's read of it on record")
    func streamAsOf() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, etag) = try await n.fileReport()
            let caseID = String(path.split(separator: "/").last!)
            let acknowledged = try await api.send(.post, path + "/acknowledge", token: n.coordinator, json: [:], ifMatch: etag)
            #expect(acknowledged.status == .ok)
            let auditor = try await api.token(.center, .auditor)

            let now = try await api.send(.get, "/v1/audit/streams/case-\(caseID)", token: auditor)
            #expect(now.status == .ok, "\(now.text)")
            #expect(now["version"] as? Int == 2)
            #expect((now["state"] as? [String: Any])?["status"] as? String == "acknowledged")
            let events = now["events"] as? [[String: Any]] ?? []
            let firstPosition = try #require(events.first?["position"] as? Int)

            let then = try await api.send(.get, "/v1/audit/streams/case-\(caseID)?asOf=\(firstPosition)", token: auditor)
            #expect(then["version"] as? Int == 1)
            #expect((then["state"] as? [String: Any])?["status"] as? String == "reported")
            #expect((then["state"] as? [String: Any])?["personalData"] as? String == "none")
            let before = try await api.send(.get, "/v1/audit/streams/case-\(caseID)?asOf=2020-01-01", token: auditor)
            #expect(before.status == .notFound)
            #expect(try await api.send(.get, "/v1/audit/streams/case-\(caseID)?asOf=soon", token: auditor).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/audit/streams/case-\(caseID)", token: n.schoolStaff).status == .forbidden)

            // The auditor's reads are in the case's read trail, beside the staff's.
            _ = try await api.send(.get, path, token: n.schoolStaff)
            let access = try await api.send(.get, "/v1/audit/access?case=\(caseID)", token: auditor)
            #expect(access.status == .ok)
            let records = access["records"] as? [[String: Any]] ?? []
            #expect(
                records.filter { $0["role"] as? String == "auditor" && $0["read"] as? String == "history" && $0["reason"] as? String == "audit" }
                    .count == 2
            )
            let staff = try #require(records.first { $0["role"] as? String == "reporter" })
            #expect(staff["read"] as? String == "case")

            // What one actor read, across cases.
            let actor = try #require(staff["actor"] as? String)
            // (a search over every trail: what is below the read horizon, so a moment after the read)
            try await api.eventually("the read found by actor") {
                let byActor = try await api.send(.get, "/v1/audit/access?actor=\(actor)", token: auditor)
                return (byActor["records"] as? [[String: Any]] ?? []).map { $0["case"] as? String } == [caseID]
            }
            #expect(try await api.send(.get, "/v1/audit/access", token: auditor).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/audit/access?case=\(caseID)", token: n.coordinator).status == .forbidden)
        }
    }

    @Test("seals on demand, the proof that a later one extends an earlier one, and verification")
    func seals() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            _ = try await n.fileReport()
            let auditor = try await api.token(.center, .auditor)
            try await Self.allReadable(api)
            let first = try await api.send(.post, "/v1/audit/seals", token: auditor)
            #expect(first.status == .created, "\(first.text)")
            _ = try await n.fileReport()
            try await Self.allReadable(api)
            let second = try await api.send(.post, "/v1/audit/seals", token: auditor)
            #expect(second.status == .created)
            #expect(try await api.send(.post, "/v1/audit/seals", token: n.coordinator).status == .forbidden)

            let list = try await api.send(.get, "/v1/audit/seals", token: auditor)
            let seals = list["seals"] as? [[String: Any]] ?? []
            #expect(seals.count == 2)
            #expect(list["publicKey"] as? String == APIHarness.sealKey.publicKey.rawRepresentation.base64EncodedString())
            let sizes = seals.compactMap { $0["treeSize"] as? Int }
            let roots = seals.compactMap { ($0["root"] as? String).flatMap(Hex.decode) }
            #expect(sizes.count == 2 && sizes[0] < sizes[1])

            let proof = try await api.send(.get, "/v1/audit/seals/consistency?first=\(sizes[0])&second=\(sizes[1])", token: auditor)
            #expect(proof.status == .ok, "\(proof.text)")
            let hashes = (proof["proof"] as? [String] ?? []).compactMap(Hex.decode)
            #expect(MerkleTree.verifyConsistency(first: sizes[0], firstRoot: roots[0], second: sizes[1], secondRoot: roots[1], proof: hashes))
            #expect(!MerkleTree.verifyConsistency(first: sizes[0], firstRoot: roots[1], second: sizes[1], secondRoot: roots[1], proof: hashes))
            #expect(try await api.send(.get, "/v1/audit/seals/consistency?first=5&second=2", token: auditor).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/audit/seals/consistency?first=1&second=99999", token: auditor).status == .notFound)

            let verification = try await api.send(.get, "/v1/audit/verify", token: auditor)
            #expect(verification["intact"] as? Bool == true, "\(verification.text)")
            #expect(verification["sealsChecked"] as? Int == 2)
            #expect(verification["signaturesChecked"] as? Bool == true)
        }
    }
}
