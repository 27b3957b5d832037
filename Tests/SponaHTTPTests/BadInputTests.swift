import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import Testing

/// Every kind of bad request gets a clear problem+json 4xx, and nothing is written.
@Suite("Bad input")
struct BadInputTests {
    @Test("malformed JSON, wrong types, unknown values and missing fields")
    func malformedBodies() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            try await api.expectRefused(.badRequest, detailContains: "not valid JSON") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, raw: #"{"municipality": "prokuplje", "#)
            }
            var wrongType = Network.report
            wrongType["reporterTrained"] = "yes"
            try await api.expectRefused(.unprocessableContent, detailContains: "reporterTrained") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: wrongType)
            }
            var unknownChannel = Network.report
            unknownChannel["channel"] = "carrier-pigeon"
            try await api.expectRefused(.unprocessableContent, detailContains: "channel") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: unknownChannel)
            }
            var unknownAge = Network.report
            unknownAge["subject"] = ["ageGroup": "teen", "gender": "female"]
            try await api.expectRefused(.unprocessableContent, detailContains: "subject.ageGroup") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: unknownAge)
            }
            var missing = Network.report
            missing.removeValue(forKey: "municipality")
            try await api.expectRefused(.unprocessableContent, detailContains: "municipality") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: missing)
            }
            var unknownIndicator = Network.report
            unknownIndicator["indicators"] = ["VR-05", "XX-99"]
            try await api.expectRefused(.unprocessableContent, detailContains: "XX-99") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: unknownIndicator)
            }
            try await api.expectRefused(.unsupportedMediaType) {
                try await api.send(
                    .post,
                    "/v1/cases",
                    token: n.schoolStaff,
                    raw: "municipality=prokuplje",
                    contentType: "application/x-www-form-urlencoded"
                )
            }
            try await api.expectRefused(.badRequest, detailContains: "Idempotency-Key") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: Network.report, idempotencyKey: String(repeating: "k", count: 201))
            }
        }
    }

    @Test("a body over 1 MiB is refused with 413")
    func oversizedBody() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            var huge = Network.report
            huge["padding"] = String(repeating: "x", count: 1 << 20)
            try await api.expectRefused(.contentTooLarge) {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: huge)
            }
        }
    }

    @Test("an unknown municipality code is refused and named")
    func unknownMunicipality() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            var report = Network.report
            report["municipality"] = "atlantis"
            try await api.expectRefused(.unprocessableContent, detailContains: "atlantis") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: report)
            }
            report = Network.report
            report["locations"] = [["role": "exploitation", "municipality": "gotham"]]
            try await api.expectRefused(.unprocessableContent, detailContains: "gotham") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: report)
            }
            try await api.expectRefused(.unprocessableContent, detailContains: "atlantis") {
                try await api.send(
                    .post,
                    "/v1/institutions",
                    token: n.admin,
                    json: ["nameLatin": "Nowhere", "sector": "health", "municipality": "atlantis"]
                )
            }
        }
    }

    @Test("a referral to an inactive institution is refused")
    func referralToInactiveInstitution() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let deactivated = try await api.send(
                .post,
                "/v1/institutions/\(n.health)/deactivate",
                token: n.admin,
                json: ["reason": "merged into the hospital"]
            )
            #expect(deactivated.status == .ok, "\(deactivated.text)")
            let (path, etag) = try await n.fileReport()
            try await api.expectRefused(.unprocessableContent, detailContains: "no longer active") {
                try await api.send(
                    .post,
                    path + "/referrals",
                    token: n.coordinator,
                    json: [
                        "to": n.health.rawValue.uuidString, "reason": "medical check", "due": iso(Date().addingTimeInterval(86_400)),
                    ],
                    ifMatch: etag
                )
            }
            // And to one that does not exist at all.
            try await api.expectRefused(.unprocessableContent) {
                try await api.send(
                    .post,
                    path + "/referrals",
                    token: n.coordinator,
                    json: [
                        "to": UUID().uuidString, "reason": "medical check", "due": iso(Date().addingTimeInterval(86_400)),
                    ],
                    ifMatch: etag
                )
            }
        }
    }

    @Test("a stale If-Match is refused with 412; a missing one with 428")
    func staleVersion() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, etag) = try await n.fileReport()
            let acknowledged = try await api.send(.post, path + "/acknowledge", token: n.coordinator, ifMatch: etag)
            #expect(acknowledged.status == .ok)
            try await api.expectRefused(.preconditionFailed, detailContains: "version 2") {
                try await api.send(
                    .post,
                    path + "/triage",
                    token: n.coordinator,
                    json: ["confirmedRisk": "high", "caseManager": "c-1"],
                    ifMatch: etag
                )
            }
            try await api.expectRefused(.preconditionRequired) {
                try await api.send(.post, path + "/triage", token: n.coordinator, json: ["confirmedRisk": "high", "caseManager": "c-1"])
            }
            try await api.expectRefused(.badRequest, detailContains: "If-Match") {
                try await api.send(
                    .post,
                    path + "/triage",
                    token: n.coordinator,
                    json: ["confirmedRisk": "high", "caseManager": "c-1"],
                    ifMatch: "\"latest\""
                )
            }
        }
    }

    @Test("a refused transition is a 409 whose detail says why")
    func refusedTransition() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, etag) = try await n.fileReport()
            var version = etag
            for (suffix, json) in [("/acknowledge", [String: Any]()), ("/close", ["reason": "no risk"])] {
                let reply = try await api.send(.post, path + suffix, token: n.coordinator, json: json, ifMatch: version)
                #expect(reply.status == .ok, "\(reply.text)")
                version = reply.etag ?? version
            }
            try await api.expectRefused(.conflict, detailContains: "closed") {
                try await api.send(
                    .post,
                    path + "/referrals",
                    token: n.coordinator,
                    json: [
                        "to": n.police.rawValue.uuidString, "reason": "check", "due": iso(Date().addingTimeInterval(86_400)),
                    ],
                    ifMatch: version
                )
            }
            // To an institution that is no party to it, the case does not exist.
            try await api.expectRefused(.notFound) {
                try await api.send(.post, path + "/identification", token: n.officer, json: ["outcome": "identified_victim"], ifMatch: version)
            }
        }
    }

    @Test("a missing, unknown, revoked or expired token gets 401")
    func tokens() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            try await api.expectRefused(.unauthorized) {
                try await api.send(.post, "/v1/cases", token: nil, json: Network.report)
            }
            try await api.expectRefused(.unauthorized) {
                try await api.send(.post, "/v1/cases", token: "spona_not-a-token", json: Network.report)
            }
            let tokens = AccessTokens(client: api.db.owner, logger: api.db.logger)
            let issued = try await tokens.issue(
                institution: n.school,
                role: .reporter,
                districts: [],
                label: "leaving",
                expiresAt: Date().addingTimeInterval(86_400)
            )
            #expect(try await api.send(.get, "/v1/inbox", token: issued.token).status == .ok)
            #expect(try await tokens.revoke(issued.id))
            // The server keeps token lookups only while it hears of every change: the
            // revocation ends it as soon as its notification arrives (milliseconds).
            try await api.eventually("the revoked token refused") {
                let reply = try await api.send(.post, "/v1/cases", token: issued.token, json: Network.report)
                return reply.status == .unauthorized && (reply["detail"] as? String ?? "").contains("revoked")
            }
            let expired = try await api.token(n.school, .reporter, expiresAt: Date().addingTimeInterval(-60))
            try await api.expectRefused(.unauthorized, detailContains: "expired") {
                try await api.send(.post, "/v1/cases", token: expired, json: Network.report)
            }
            // The staff of an institution that was deactivated.
            let deactivated = try await api.send(.post, "/v1/institutions/\(n.police)/deactivate", token: n.admin, json: ["reason": "reorganised"])
            #expect(deactivated.status == .ok)
            try await api.eventually("the deactivated institution's token refused") {
                let reply = try await api.send(.get, "/v1/inbox", token: n.officer)
                return reply.status == .unauthorized && (reply["detail"] as? String ?? "").contains("no longer active")
            }
            // A role that may not file reports.
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            try await api.expectRefused(.forbidden) {
                try await api.send(.post, "/v1/cases", token: analyst, json: Network.report)
            }
        }
    }
}
