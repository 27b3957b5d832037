import Crypto
import Foundation
import HTTPTypes
import Logging
import SponaApplication
import SponaDomain
import SponaIdentity
import SponaTestSupport
import Testing

/// People sign in at the network's identity provider: Spona accepts its access tokens (JWTs)
/// only when they are signed by a key it publishes, issued by it, meant for Spona, current,
/// and name a registered institution and one of Spona's roles. Everything else is a 401 that
/// leaves no trace in the history.
@Suite("Signing in through the identity provider")
struct IdentityTests {
    func eventCount(_ api: APIHarness) async throws -> Int64 {
        var count: Int64 = 0
        for try await n in try await api.db.admin.query("SELECT count(*) FROM events", logger: api.db.logger).decode(Int64.self) { count = n }
        return count
    }

    @Test("forged, stale, foreign and unsigned tokens are each refused with 401, and nothing is recorded")
    func refusals() async throws {
        try await TestIdentityProvider.run { people in
            try await APIHarness.run(people: people) { api in
                let n = try await Network.make(api)
                let (path, _) = try await n.fileReport()
                func person(
                    expiresAt: Date = Date().addingTimeInterval(300),
                    claims: [String: Any] = [:],
                    header: [String: Any] = [:],
                    key: TestIdentityProvider.SigningKey? = nil
                ) throws -> String {
                    try people.token(
                        subject: "intruder",
                        institution: n.school,
                        role: .reporter,
                        expiresAt: expiresAt,
                        claims: claims,
                        header: header,
                        signingKey: key
                    )
                }
                let genuine = try person()
                #expect(try await api.send(.get, path, token: genuine).status == .ok)

                let now = Int(Date().timeIntervalSince1970)
                let current = people.currentKey
                let publicKeyBytes = current.key.publicKey.rawRepresentation
                let jwksText = TestIdentityProvider.jwks([current])
                let claims: [String: Any] = [
                    "iss": TestIdentityProvider.issuer, "aud": TestIdentityProvider.audience, "sub": "intruder", "exp": now + 300,
                    "spona_institution": n.school.rawValue.uuidString, "spona_role": "coordinator",
                ]
                let forgeries: [(String, String, String)] = [
                    ("expired", try person(expiresAt: Date().addingTimeInterval(-120)), "expired"),
                    ("not yet valid", try person(claims: ["nbf": now + 600]), "not valid yet"),
                    ("another issuer", try person(claims: ["iss": "https://evil.test/realms/spona"]), "not issued by"),
                    ("another audience", try person(claims: ["aud": "another-app"]), "not meant for Spona"),
                    ("a key of its own under the provider's kid", try person(key: .init(id: current.id, key: .init())), "does not verify"),
                    ("a key the provider does not publish", try person(key: .init(id: "made-up", key: .init())), "does not publish"),
                    (
                        "alg none",
                        try TestIdentityProvider.forge(header: ["alg": "none", "typ": "JWT"], claims: claims) { _ in Data() }, "refused"
                    ),
                    (
                        "HS256 keyed with the public key",
                        try TestIdentityProvider.forge(header: ["alg": "HS256", "typ": "JWT", "kid": current.id], claims: claims) {
                            Data(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: publicKeyBytes)))
                        },
                        "refused"
                    ),
                    (
                        "HS256 keyed with the JWKS document",
                        try TestIdentityProvider.forge(header: ["alg": "HS256", "kid": current.id], claims: claims) {
                            Data(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: jwksText)))
                        },
                        "refused"
                    ),
                    (
                        "a claim changed after signing",
                        String(genuine.split(separator: ".")[0]) + "."
                            + TestIdentityProvider.base64URL(try JSONSerialization.data(withJSONObject: claims)) + "."
                            + String(genuine.split(separator: ".")[2]), "does not verify"
                    ),
                    ("no role", try person(claims: ["spona_role": NSNull()]), "'spona_role'"),
                    ("a role Spona lacks", try person(claims: ["spona_role": "superuser"]), "none of Spona's roles"),
                    ("two roles", try person(claims: ["spona_role": ["reporter", "admin"]]), "several Spona roles"),
                    ("an institution nobody registered", try person(claims: ["spona_institution": UUID().uuidString]), "not registered"),
                    ("an analyst of no district", try person(claims: ["spona_role": "analyst"]), "names no districts"),
                    (
                        "a district that does not exist", try person(claims: ["spona_role": "analyst", "spona_districts": ["RS-99"]]),
                        "not a district"
                    ),
                    ("garbage", "eyJ.eyJ.x", "not a well-formed"),
                ]
                let before = try await eventCount(api)
                for (what, token, says) in forgeries {
                    let read = try await api.send(.get, path, token: token)
                    #expect(read.status == .unauthorized, "\(what): \(read.status) \(read.text)")
                    #expect((read["detail"] as? String)?.contains(says) == true, "\(what): \(read.text)")
                    #expect(read.headers[.wwwAuthenticate] != nil, "\(what)")
                    let filed = try await api.send(.post, "/v1/cases", token: token, json: Network.report)
                    #expect(filed.status == .unauthorized, "\(what): \(filed.status)")
                }
                #expect(try await eventCount(api) == before, "a refused token left a trace in the history")
            }
        }
    }

    @Test("a key the provider rotates to is picked up without a restart; an unknown key is fetched for once, not on every request")
    func rotation() async throws {
        try await TestIdentityProvider.run { people in
            try await APIHarness.run(people: people) { api in
                let n = try await Network.make(api)
                #expect(try await api.send(.get, "/v1/inbox", token: n.schoolStaff).status == .ok)
                // Long enough after the first read of the keys that an unknown one may be looked for.
                try await Task.sleep(for: TestIdentityProvider.refetchInterval + .milliseconds(100))
                let readsBefore = people.jwksReads
                // Unknown kid: one fetch, then refusals without asking the provider again.
                let stranger = try people.token(subject: "s", institution: n.school, role: .reporter, signingKey: .init(id: "nobody", key: .init()))
                for _ in 0..<5 { #expect(try await api.send(.get, "/v1/inbox", token: stranger).status == .unauthorized) }
                #expect(people.jwksReads == readsBefore + 1, "the JWKS was read \(people.jwksReads - readsBefore) times for one unknown key")

                // The provider rotates; a token with the new key signs in (once the refetch
                // interval has passed since the last attempt).
                try await Task.sleep(for: TestIdentityProvider.refetchInterval + .milliseconds(100))
                people.rotate(retiringOld: false)
                let fresh = try people.token(subject: "new-key", institution: n.school, role: .reporter)
                let reply = try await api.send(.get, "/v1/inbox", token: fresh)
                #expect(reply.status == .ok, "\(reply.text)")
                // Tokens of the old key still sign in while the provider publishes it.
                #expect(try await api.send(.get, "/v1/inbox", token: n.schoolStaff).status == .ok)
            }
        }
    }

    @Test("the read trail names the person, and an auditor finds a person's reads by their id")
    func trailNamesThePerson() async throws {
        try await TestIdentityProvider.run { people in
            try await APIHarness.run(people: people) { api in
                let n = try await Network.make(api)
                let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData())
                let path = try #require(filed.location)
                let ana = try people.token(subject: "ana-7", name: "Ana Anić", institution: .center, role: .coordinator)
                let read = try await api.send(
                    .get,
                    path + "/personal-data",
                    token: ana,
                    headers: [HTTPField.Name("Spona-Read-Reason")!: "case%20conference"]
                )
                #expect(read.status == .ok, "\(read.text)")
                let auditor = try people.token(subject: "auditor-1", name: "Revizor", institution: .center, role: .auditor)
                // (a search over every trail: what is below the read horizon, so a moment after the read)
                try await api.eventually("Ana's read found by her id, with her name") {
                    let trail = try await api.send(.get, "/v1/audit/access?actor=person:ana-7", token: auditor)
                    let records = trail["records"] as? [[String: Any]] ?? []
                    return records.contains { $0["read"] as? String == "personal_data" && $0["actorName"] as? String == "Ana Anić" }
                }
                // The case's events carry the person who wrote them.
                let events = try await api.send(.get, path + "/events", token: auditor)
                #expect(events.text.contains("person:staff-") && events.text.contains("Test Person"), "\(events.text.prefix(400))")
            }
        }
    }

    @Test("reading personal data beyond the hourly limit is refused with 429 and Retry-After, and the refusal is on the case's trail")
    func personalDataThrottle() async throws {
        try await TestIdentityProvider.run { people in
            try await APIHarness.run(people: people, configure: { $0.personalDataReadsPerHour = 2 }) { api in
                let n = try await Network.make(api)
                var paths: [String] = []
                for _ in 0..<3 {
                    let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData())
                    paths.append(try #require(filed.location))
                }
                let reader = try people.token(subject: "bulk-reader", name: "Bulk Reader", institution: .center, role: .coordinator)
                let reason: HTTPFields = [HTTPField.Name("Spona-Read-Reason")!: "checking"]
                #expect(try await api.send(.get, paths[0] + "/personal-data", token: reader, headers: reason).status == .ok)
                #expect(try await api.send(.get, paths[1] + "/personal-data", token: reader, headers: reason).status == .ok)
                let third = try await api.send(.get, paths[2] + "/personal-data", token: reader, headers: reason)
                #expect(third.status == .tooManyRequests, "\(third.text)")
                #expect(Int(third.headers[.retryAfter] ?? "") ?? 0 > 0)
                #expect(third["personalData"] == nil)
                // Someone else is not held back by this reader's reads.
                #expect(try await api.send(.get, paths[2] + "/personal-data", token: n.coordinator, headers: reason).status == .ok)

                let auditor = try people.token(subject: "auditor-2", institution: .center, role: .auditor)
                let caseID = String(paths[2].split(separator: "/").last!)
                let trail = try await api.send(.get, "/v1/audit/access?case=\(caseID)", token: auditor)
                let records = trail["records"] as? [[String: Any]] ?? []
                #expect(
                    records.contains { $0["read"] as? String == "personal_data_refused" && $0["actor"] as? String == "person:bulk-reader" },
                    "\(trail.text)"
                )
            }
        }
    }

    @Test(
        "an address that keeps failing to sign in gets 429 for its failures while valid tokens still sign in, and the failures are counted in /metrics"
    )
    func failedSignInsAreSlowedAndCounted() async throws {
        try await APIHarness.run(configure: { $0.failedSignInsPerMinute = 3 }) { api in
            let n = try await Network.make(api)
            for attempt in 0..<3 {
                let reply = try await api.send(.get, "/v1/inbox", token: "spona_guess\(attempt)")
                #expect(reply.status == .unauthorized)
            }
            let slowed = try await api.send(.get, "/v1/inbox", token: "spona_guess4")
            #expect(slowed.status == .tooManyRequests, "\(slowed.text)")
            #expect(slowed.headers[.retryAfter] != nil)
            // A valid token still signs in: behind a proxy everyone shares its address, and one
            // client's failures must not lock the others out.
            #expect(try await api.send(.get, "/v1/inbox", token: n.schoolStaff).status == .ok)
            #expect(try await api.send(.get, "/v1/inbox", token: "spona_guess5").status == .tooManyRequests)
            let metrics = try await api.send(.get, "/metrics", token: nil)
            #expect(metrics.text.contains("spona_authentication_failures_total{kind=\"token\"}"), "\(metrics.text.prefix(300))")
        }
    }

    @Test("a service account's token always expires, within 90 days; the database refuses one that would not")
    func serviceTokensExpire() async throws {
        try await TestDatabase.withFresh { db in
            let tokens = AccessTokens(client: db.owner, logger: db.logger)
            await #expect(throws: AccessTokens.IssueRefusal.lifeTooLong) {
                _ = try await tokens.issue(
                    institution: .center,
                    role: .admin,
                    districts: [],
                    label: "forever",
                    expiresAt: Date().addingTimeInterval(91 * 86_400)
                )
            }
            await #expect(throws: (any Error).self) {
                try await db.owner.query(
                    "INSERT INTO access_tokens (id, token_hash, institution_id, role) VALUES (\(UUID()), \(Data(repeating: 7, count: 32)), \(UUID()), 'admin')",
                    logger: db.logger
                )
            }
            let issued = try await tokens.issue(
                institution: .center,
                role: .admin,
                districts: [],
                label: "month",
                expiresAt: Date().addingTimeInterval(30 * 86_400)
            )
            _ = try await AccessTokens(client: db.app, logger: db.logger).authenticate(issued.token)
            try await Task.sleep(for: .milliseconds(300))
            let listed = try await tokens.list()
            #expect(listed.first { $0.id == issued.id }?.lastUsedAt != nil, "its use was not written down")
        }
    }

    @Test("a server reads the provider's keys before its first sign-in, and says so when it cannot")
    func warmUp() async throws {
        try await TestIdentityProvider.run { people in
            let provider = people.provider(geography: shippedGeography, logger: Logger(label: "test"))
            #expect(await provider.warm())
            #expect(people.jwksReads == 1)
            let token = try people.token(subject: "early", institution: .center, role: .coordinator)
            let person = try await provider.signIn(token)
            #expect(person.actorID == "person:early")
            #expect(people.jwksReads == 1, "the first sign-in read the keys again")
        }
        let unreachable = IdentityProvider(
            settings: IdentityProviderSettings(
                issuer: TestIdentityProvider.issuer,
                audience: TestIdentityProvider.audience,
                keys: .url(URL(string: "http://127.0.0.1:1/certs")!)
            ),
            knownDistricts: [],
            logger: Logger(label: "test")
        )
        #expect(await unreachable.warm() == false)
    }

    @Test(
        "deploy/keycloak's realm and Spona's settings for it agree: a Keycloak-shaped access token maps to the person, institution, role and districts"
    )
    func keycloakExample() throws {
        let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/keycloak")
        var environment: [String: String] = [:]
        for line in try String(contentsOf: deploy.appendingPathComponent("spona-oidc.env"), encoding: .utf8).split(separator: "\n")
        where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { environment[String(parts[0])] = String(parts[1]) }
        }
        let settings = try #require(try IdentityProviderSettings.fromEnvironment(environment))
        #expect(settings.audience == "spona-api")

        // The realm's mappers put the claims where the settings look for them.
        let realm = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: deploy.appendingPathComponent("spona-realm.json"))) as? [String: Any]
        )
        let scopes = realm["clientScopes"] as? [[String: Any]] ?? []
        let mappers = scopes.flatMap { $0["protocolMappers"] as? [[String: Any]] ?? [] }
        let claimNames = Set(mappers.compactMap { ($0["config"] as? [String: String])?["claim.name"] })
        #expect(claimNames.isSuperset(of: [settings.claims.institution, settings.claims.districts, settings.claims.role]), "\(claimNames)")
        let audiences = mappers.compactMap { ($0["config"] as? [String: String])?["included.client.audience"] }
        #expect(audiences == [settings.audience])
        let realmRoles = ((realm["roles"] as? [String: Any])?["realm"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(Set(realmRoles) == Set(Role.allCases.map { settings.claims.rolePrefix + $0.rawValue }))

        // An analyst's access token as Keycloak writes it, other applications' roles beside.
        let token: [String: Any] = [
            "sub": "f1c2a3b4-0000-4000-8000-000000000001", "name": "Milan Example", "preferred_username": "toplica.analyst",
            "realm_access": ["roles": ["offline_access", "spona-analyst", "uma_authorization"]],
            "spona_institution": "00000000-0000-4000-8000-00000000c2e0", "spona_districts": ["RS-21"],
        ]
        let claims = try JSONDecoder().decode(ClaimValue.self, from: JSONSerialization.data(withJSONObject: token))
        let person = try settings.claims.person(from: claims, knownDistricts: Set(shippedGeography.districts.map(\.code.rawValue)))
        #expect(person.role == .analyst && person.institution == .center && person.districts == [DistrictCode(rawValue: "RS-21")])
        #expect(person.actorID == "person:f1c2a3b4-0000-4000-8000-000000000001" && person.name == "Milan Example")

        // The dashboard's client: the realm lets the browser back exactly where Spona sends it.
        let browser = try #require(try BrowserSignIn.Settings.fromEnvironment(environment))
        let web = try #require((realm["clients"] as? [[String: Any]] ?? []).first { $0["clientId"] as? String == browser.clientID })
        #expect(web["redirectUris"] as? [String] == [browser.redirectURI])
        #expect(web["publicClient"] as? Bool == true)
        #expect((web["attributes"] as? [String: String])?["pkce.code.challenge.method"] == "S256")
        #expect(browser.authorizationURL.absoluteString.hasPrefix(settings.issuer + "/"))
        #expect(browser.tokenURL.absoluteString.hasPrefix(settings.issuer + "/"))
    }
}
