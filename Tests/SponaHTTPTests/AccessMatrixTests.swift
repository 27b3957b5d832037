import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaRecords
import SponaTestSupport
import Testing

/// Who may do what on a case, route by route: a case exists only for its parties, the Center
/// and auditors; to anyone else every case route answers 404, exactly as for a case that does
/// not exist.
@Suite("Who may see and do what")
struct AccessMatrixTests {
    struct Route {
        var method: HTTPRequest.Method
        var path: String
        var json: [String: Any]
        var reads: Bool { method == .get }
    }

    @Test("every role against every case route, with service tokens and with people signed in at the identity provider", arguments: [false, true])
    func matrix(signedIn: Bool) async throws {
        try await withHarness(signedIn: signedIn) { api in
            let n = try await Network.make(api)
            // Case A: the school's report, referred to social work, a conference held with a decision.
            let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData())
            let path = try #require(filed.location)
            var etag = try #require(filed.etag)
            func step(_ suffix: String, _ json: [String: Any], _ token: String? = nil) async throws -> Reply {
                let reply = try await api.send(.post, path + suffix, token: token ?? n.coordinator, json: json, ifMatch: etag)
                #expect(reply.status == .ok || reply.status == .created, "\(suffix): \(reply.text)")
                etag = reply.etag ?? etag
                return reply
            }
            let due = iso(Date().addingTimeInterval(86_400))
            let referral = try #require(
                try await step("/referrals", ["to": n.socialWork.rawValue.uuidString, "reason": "assessment", "due": due]).location
            )
            let conference = try #require(
                try await step("/conferences", ["at": due, "invited": [n.school, n.socialWork].map(\.rawValue.uuidString)]).location
            )
            _ = try await step(
                String(conference.dropFirst(path.count)) + "/held",
                ["attended": [InstitutionID.center, n.school, n.socialWork].map(\.rawValue.uuidString)]
            )
            let decision = try #require(
                try await step(
                    String(conference.dropFirst(path.count)) + "/decisions",
                    ["type": "shelter_placement", "responsible": n.socialWork.rawValue.uuidString]
                ).location
            )
            let r = String(referral.dropFirst(path.count))
            let c = String(conference.dropFirst(path.count))
            let d = String(decision.dropFirst(path.count))

            // Case B: the police's own report, to guess A's referral and conference ids under.
            let other = try await api.send(.post, "/v1/cases", token: n.officer, json: Network.report)
            let otherPath = try #require(other.location)
            let otherETag = try #require(other.etag)

            let routes: [Route] = [
                Route(method: .get, path: "", json: [:]),
                Route(method: .get, path: "/events", json: [:]),
                Route(method: .get, path: "/personal-data", json: [:]),
                Route(method: .post, path: "/acknowledge", json: [:]),
                Route(method: .post, path: "/triage", json: ["confirmedRisk": "high", "caseManager": "c-1"]),
                Route(method: .post, path: "/identification", json: ["outcome": "identified_victim"]),
                Route(method: .post, path: "/assistance", json: ["kind": "counselling"]),
                Route(method: .post, path: "/close", json: ["reason": "done"]),
                Route(method: .post, path: "/reopen", json: ["reason": "again"]),
                Route(method: .post, path: "/referrals", json: ["to": n.health.rawValue.uuidString, "reason": "check", "due": due]),
                Route(method: .post, path: r + "/receive", json: [:]),
                Route(method: .post, path: r + "/accept", json: [:]),
                Route(method: .post, path: r + "/decline", json: ["reason": "no"]),
                Route(method: .post, path: r + "/complete", json: ["outcome": "done"]),
                Route(method: .post, path: r + "/fail", json: ["reason": "no"]),
                Route(method: .post, path: r + "/withdraw", json: [:]),
                Route(method: .post, path: r + "/entered-in-error", json: ["reason": "typo"]),
                Route(method: .post, path: "/conferences", json: ["at": due, "invited": [n.health.rawValue.uuidString]]),
                Route(method: .post, path: c + "/held", json: ["attended": [InstitutionID.center.rawValue.uuidString]]),
                Route(method: .post, path: c + "/cancel", json: ["reason": "no"]),
                Route(method: .post, path: c + "/decisions", json: ["type": "legal_aid", "responsible": n.socialWork.rawValue.uuidString]),
                Route(method: .post, path: d + "/implemented", json: [:]),
                Route(method: .post, path: "/erase-personal-data", json: ["legalBasis": "GDPR Art. 17", "reference": "R-1"]),
            ]

            let revoked = try await AccessTokens(client: api.db.owner, logger: api.db.logger)
                .issue(institution: n.school, role: .reporter, districts: [], label: "revoked", expiresAt: Date().addingTimeInterval(86_400))
            _ = try await AccessTokens(client: api.db.owner, logger: api.db.logger).revoke(revoked.id)
            let expired = try await api.token(n.school, .reporter, expiresAt: Date().addingTimeInterval(-1))
            let auditor = try await api.token(.center, .auditor)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])

            /// What each caller gets on each route; nil where the domain decides (checked elsewhere).
            let callers: [(name: String, token: String, expect: (Route) -> HTTPResponse.Status?)] = [
                ("non-party reporter", n.officer, { _ in .notFound }),
                ("analyst", analyst, { _ in .notFound }),
                ("admin", n.admin, { $0.path == "/erase-personal-data" ? nil : .notFound }),
                ("revoked token", revoked.token, { _ in .unauthorized }),
                ("expired token", expired, { _ in .unauthorized }),
                ("auditor", auditor, { $0.method == .get && !$0.path.hasPrefix("/personal-data") ? .ok : .forbidden }),
                ("party reporter", n.schoolStaff, { $0.reads ? .ok : nil }),
                ("Center coordinator", n.coordinator, { $0.reads ? .ok : nil }),
            ]

            let before = try await api.db.eventCount()
            var notFoundBodies = Set<String>()
            for caller in callers {
                for route in routes where route.path != "/erase-personal-data" {
                    guard let expected = caller.expect(route) else { continue }
                    let reply = try await api.send(
                        route.method,
                        path + route.path,
                        token: caller.token,
                        json: route.method == .post ? route.json : nil,
                        ifMatch: route.method == .post ? etag : nil,
                        headers: readReason("matrix")
                    )
                    #expect(reply.status == expected, "\(caller.name) \(route.method) \(route.path): \(reply.status.code) \(reply.text)")
                    if reply.status == .notFound { notFoundBodies.insert(reply.text) }
                }
            }
            // Refused commands wrote nothing; the allowed reads wrote one trail record each: the
            // auditor's two, the party's three and the Center's three.
            #expect(try await api.db.eventCount() == before + 2 + 3 + 3)

            // A case that does not exist answers exactly like one the caller may not see.
            let nowhere = try await api.send(.get, "/v1/cases/\(UUID())", token: n.officer)
            #expect(nowhere.status == .notFound)
            #expect(notFoundBodies == [nowhere.text])

            // A's ids guessed under the police's own case B: nothing there either.
            for suffix in [r + "/accept", c + "/held", d + "/implemented"] {
                let reply = try await api.send(
                    .post,
                    otherPath + suffix,
                    token: n.officer,
                    json: suffix.hasSuffix("held") ? ["attended": [n.police.rawValue.uuidString]] : [:],
                    ifMatch: otherETag
                )
                #expect(reply.status == .notFound, "\(suffix): \(reply.text)")
            }

            // Inbox and reports only ever show the caller's own institution's work.
            try await api.eventually("the social work centre's inbox") {
                let inbox = try await api.send(.get, "/v1/inbox", token: n.socialWorker)
                return (inbox["items"] as? [[String: Any]])?.count == 2
            }
            let policeInbox = try await api.send(.get, "/v1/inbox", token: n.officer)
            #expect((policeInbox["items"] as? [[String: Any]])?.isEmpty == true)
            let policeReports = try await api.send(.get, "/v1/reports/mine", token: n.officer)
            #expect(
                (policeReports["reports"] as? [[String: Any]])?.compactMap { ($0["caseId"] as? String)?.lowercased() }
                    == [String(otherPath.split(separator: "/").last!).lowercased()]
            )
            #expect(try await api.send(.get, "/v1/inbox", token: analyst).status == .forbidden)

            // Erasure: the admin alone.
            for token in [n.schoolStaff, n.coordinator, auditor, analyst, n.officer] {
                let reply = try await api.send(.post, path + "/erase-personal-data", token: token, json: routes.last!.json)
                #expect(reply.status == .notFound || reply.status == .forbidden, "\(reply.text)")
            }
            #expect(try await api.send(.post, path + "/erase-personal-data", token: n.admin, json: routes.last!.json).status == .ok)
        }
    }

    @Test(
        "the Center's powers are no registry edit: isCenter for another institution is refused, a PUT without it keeps the Center, and a stored registration saying otherwise gives no power"
    )
    func centerIsNotARegistryEdit() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, _) = try await n.fileReport()
            let made = try await api.send(
                .put,
                "/v1/institutions/\(n.police)",
                token: n.admin,
                json: ["nameLatin": "PU Prokuplje", "sector": "police", "municipality": "prokuplje", "isCenter": true]
            )
            #expect(made.status == .unprocessableContent && made.text.contains("isCenter"), "\(made.text)")
            let registered = try await api.send(
                .post,
                "/v1/institutions",
                token: n.admin,
                json: ["nameLatin": "Centar 2", "sector": "social_protection", "isCenter": true]
            )
            #expect(registered.status == .unprocessableContent, "\(registered.text)")
            let kept = try await api.send(
                .put,
                "/v1/institutions/\(InstitutionID.center)",
                token: n.admin,
                json: ["nameLatin": "Centar za zaštitu žrtava trgovine ljudima", "sector": "social_protection"]
            )
            #expect(kept.status == .ok && kept["isCenter"] as? Bool == true, "\(kept.text)")
            #expect(try await api.send(.get, path, token: n.coordinator).status == .ok, "the Center still reads every case")

            // A registration written straight into the store (by an older release, or by hand)
            // that calls the police the Center makes it no such thing.
            let forged = InstitutionEvent.updated(
                .init(
                    id: n.police,
                    nameLatin: "PU Prokuplje",
                    sector: .police,
                    municipality: MunicipalityCode(rawValue: "prokuplje"),
                    isCenter: true
                )
            )
            let stream = Streams.institution(n.police)
            _ = try await api.db.store.append(
                to: stream,
                expected: .any,
                events: [
                    EventData(
                        type: forged.typeName,
                        schemaVersion: forged.schemaVersion,
                        payload: try forged.encodePayload(with: EventCoding.encoder)
                    )
                ],
                metadata: try EventCoding.metadata(
                    CommandMetadata(actor: Actor(id: "forger", institution: .center, role: .admin), requestID: "forged")
                )
            )
            let police = try await api.token(n.police, .coordinator)
            try await api.eventually("the registry to fold the forged event") {
                let listed = try await api.send(.get, "/v1/institutions?limit=500", token: n.admin)
                let police = listed.array.first { $0["id"] as? String == n.police.description }
                return police?["nameLatin"] as? String == "PU Prokuplje" && police?["isCenter"] as? Bool == false
            }
            #expect(try await api.send(.get, path, token: police).status == .notFound, "the police read a case they are no party to")
        }
    }

    @Test("spona tokens issue refuses an institution nobody registered and a district that does not exist, in one line")
    func tokensForNoOne() async throws {
        try await APIHarness.run { api in
            _ = try await Network.make(api)
            let environment = ["DATABASE_URL": api.db.ownerURL, "SPONA_OWNER_DATABASE_URL": api.db.ownerURL]
            let madeUp = try await runProcess(
                sponaExecutable,
                ["tokens", "issue", "--institution", UUID().uuidString, "--role", "reporter"],
                environment: environment
            )
            #expect(madeUp.status != 0 && madeUp.errorOutput.contains("is registered"), "\(madeUp.errorOutput)")
            let district = try await runProcess(
                sponaExecutable,
                ["tokens", "issue", "--institution", InstitutionID.center.description, "--role", "analyst", "--district", "RS-99"],
                environment: environment
            )
            #expect(district.status != 0 && district.errorOutput.contains("'RS-99' is not a district"), "\(district.errorOutput)")
            let fine = try await runProcess(
                sponaExecutable,
                ["tokens", "issue", "--institution", InstitutionID.center.description, "--role", "analyst", "--district", "RS-21"],
                environment: environment
            )
            #expect(fine.status == 0 && fine.output.hasPrefix("spona_"), "\(fine.errorOutput)")
            // A service account's token always expires, within 90 days.
            for days in ["0", "91", "3650"] {
                let forever = try await runProcess(
                    sponaExecutable,
                    ["tokens", "issue", "--institution", InstitutionID.center.description, "--role", "admin", "--expires-in-days", days],
                    environment: environment
                )
                #expect(forever.status != 0 && forever.errorOutput.contains("within 90 days"), "\(forever.errorOutput)")
            }
            let listed = try await runProcess(sponaExecutable, ["tokens", "list"], environment: environment)
            #expect(listed.status == 0 && listed.output.contains("last_used"), "\(listed.errorOutput)")
        }
    }
}

/// The harness with service tokens, or with people signed in through a test identity provider.
func withHarness(signedIn: Bool, _ body: @Sendable @escaping (APIHarness) async throws -> Void) async throws {
    if signedIn {
        try await TestIdentityProvider.run { people in try await APIHarness.run(people: people, body) }
    } else {
        try await APIHarness.run(body)
    }
}
