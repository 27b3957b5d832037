import Foundation
import HTTPTypes
import SponaEventStore
import SponaRecords
import Testing

@testable import SponaApplication
@testable import SponaDomain
@testable import SponaHTTP

/// A whole case over HTTP, as in the source reports: a school in Prokuplje reports a minor at
/// risk and the network takes it from there, each step by the institution whose step it is.
@Suite("A case's journey over HTTP")
struct JourneyTests {
    @Test("report, triage, referrals accepted and declined, a conference, decisions, identification, assistance, close")
    func wholeJourney() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, firstETag) = try await n.fileReport()
            #expect(firstETag == "\"1\"")
            var etag = firstETag

            /// Sends a command to the case with the version it was based on, as a client does.
            func step(_ suffix: String, _ token: String, _ json: [String: Any] = [:], expect status: HTTPResponse.Status = .ok) async throws -> Reply
            {
                let reply = try await api.send(.post, path + suffix, token: token, json: json, ifMatch: etag, idempotencyKey: UUID().uuidString)
                #expect(reply.status == status, "\(suffix): \(reply.text)")
                if let next = reply.etag { etag = next }
                return reply
            }

            // The school sees its report, with a risk score it cannot have made up itself.
            let filed = try await api.send(.get, path, token: n.schoolStaff)
            #expect(filed.status == .ok)
            let report = try #require(filed["report"] as? [String: Any])
            let risk = try #require(report["risk"] as? [String: Any])
            #expect(risk["catalogueVersion"] as? String == IndicatorCatalogue.current.version)
            #expect(risk["level"] as? String != nil)

            // The Center acknowledges and triages.
            _ = try await step("/acknowledge", n.coordinator)
            _ = try await step("/triage", n.coordinator, ["confirmedRisk": "high", "caseManager": "coordinator-7"])

            // Referrals to the social work centre and to the police.
            let due = iso(Date().addingTimeInterval(3 * 86_400))
            let toSocialWork = try await step(
                "/referrals",
                n.coordinator,
                [
                    "to": n.socialWork.rawValue.uuidString, "reason": "protective assessment of the family",
                    "requestedServices": ["assessment"], "urgency": "urgent", "due": due,
                ],
                expect: .created
            )
            let socialWorkReferral = try #require(toSocialWork.location)
            let toPolice = try await step(
                "/referrals",
                n.coordinator,
                [
                    "to": n.police.rawValue.uuidString, "reason": "check the adult who contacts her online", "urgency": "urgent", "due": due,
                ],
                expect: .created
            )
            let policeReferral = try #require(toPolice.location)

            // Both land in the receivers' inboxes.
            try await api.eventually("the referral in the social work centre's inbox") {
                let inbox = try await api.send(.get, "/v1/inbox", token: n.socialWorker)
                return (inbox["items"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "referral" }
            }

            // The Center sees where they wait: one to social protection, one to the police, none overdue yet.
            try await api.eventually("both referrals waiting in the Center's view") {
                let waiting = try await api.send(.get, "/v1/views/referrals/waiting", token: n.coordinator)
                let rows = waiting["rows"] as? [[String: Any]] ?? []
                return Set(rows.compactMap { $0["toSector"] as? String }) == ["social_protection", "police"]
                    && rows.allSatisfy { ($0["open"] as? Int) == 1 && ($0["overdue"] as? Int) == 0 }
            }
            // As of a moment after their due time, both are overdue.
            let later = iso(Date().addingTimeInterval(4 * 86_400))
            let overdue = try await api.send(.get, "/v1/views/referrals/waiting?asOf=\(later)", token: n.coordinator)
            #expect(overdue.status == .ok, "\(overdue.text)")
            #expect((overdue["rows"] as? [[String: Any]] ?? []).map { $0["overdue"] as? Int ?? 0 }.reduce(0, +) == 2, "\(overdue.text)")
            let toplica = try await api.token(.center, .analyst, districts: ["RS-21"])
            #expect(try await api.send(.get, "/v1/views/referrals/waiting", token: toplica).status == .forbidden)

            // One accepted, one declined with a reason.
            _ = try await api.send(.get, path, token: n.socialWorker).etag.map { etag = $0 }
            _ = try await step(String(socialWorkReferral.dropFirst(path.count)) + "/receive", n.socialWorker)
            _ = try await step(String(socialWorkReferral.dropFirst(path.count)) + "/accept", n.socialWorker, ["note": "assessment on Monday"])
            _ = try await step(
                String(policeReferral.dropFirst(path.count)) + "/decline",
                n.officer,
                ["reason": "already investigated under case 12/25"]
            )

            // A conference of four institutions besides the Center.
            let conference = try await step(
                "/conferences",
                n.coordinator,
                [
                    "at": iso(Date().addingTimeInterval(86_400)),
                    "invited": [n.school, n.socialWork, n.police, n.health].map(\.rawValue.uuidString),
                ],
                expect: .created
            )
            let conferencePath = String(try #require(conference.location).dropFirst(path.count))
            _ = try await step(
                conferencePath + "/held",
                n.coordinator,
                [
                    "attended": [InstitutionID.center, n.school, n.socialWork, n.police, n.health].map(\.rawValue.uuidString)
                ]
            )

            // Its decisions, and their implementation by the institutions responsible.
            let shelter = try await step(
                conferencePath + "/decisions",
                n.coordinator,
                [
                    "type": "shelter_placement", "responsible": n.socialWork.rawValue.uuidString, "due": iso(Date().addingTimeInterval(86_400)),
                ],
                expect: .created
            )
            let videoLink = try await step(
                conferencePath + "/decisions",
                n.coordinator,
                [
                    "type": "testimony_by_video_link", "responsible": n.police.rawValue.uuidString,
                ],
                expect: .created
            )
            try await api.eventually("the decision in the police's inbox") {
                let inbox = try await api.send(.get, "/v1/inbox", token: n.officer)
                return (inbox["items"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "decision" }
            }
            _ = try await step(String(try #require(shelter.location).dropFirst(path.count)) + "/implemented", n.socialWorker, ["note": "placed"])
            _ = try await step(String(try #require(videoLink.location).dropFirst(path.count)) + "/implemented", n.officer)

            // Identification by the Center, assistance, and the case closed.
            _ = try await step("/identification", n.coordinator, ["outcome": "identified_victim"])
            _ = try await step("/assistance", n.socialWorker, ["kind": "shelter"])
            _ = try await step(String(socialWorkReferral.dropFirst(path.count)) + "/complete", n.socialWorker, ["outcome": "placed in the shelter"])
            let closed = try await step("/close", n.coordinator, ["reason": "assistance plan in place"])
            #expect(closed["status"] as? String == "closed")

            // What the API shows is exactly the fold of what was stored.
            let shown = try await api.send(.get, path, token: n.coordinator)
            let caseID = CaseID(rawValue: UUID(uuidString: String(path.split(separator: "/").last!))!)
            let stored = try await api.db.store.readStream(Streams.case(caseID))
            let replayed = try #require(Case.replay(try EventCoding.caseEvents(stored)))
            let reader = Caller(actor: Actor(id: "coordinator-7", institution: .center, role: .coordinator), isCenter: true)
            let (opened, access) = await CaseService(store: api.db.store, geography: shippedGeography, vault: api.vault).openTexts(
                of: replayed,
                for: reader
            )
            let replayedJSON =
                try JSONSerialization.jsonObject(with: EventCoding.encoder.encode(CaseResource(opened, texts: access))) as? NSDictionary
            #expect(replayedJSON == (try JSONSerialization.jsonObject(with: shown.body) as? NSDictionary))
            #expect(shown.etag == "\"\(stored.count)\"")
            #expect(replayed.referrals.map(\.status) == [.completed, .declined])
            #expect(opened.referrals[1].note == .written("already investigated under case 12/25"))
            // What people wrote is in the history only sealed under the subject's key.
            #expect(replayed.referrals[1].note?.plain == nil)
            for event in stored {
                let payload = String(decoding: event.payload, as: UTF8.self)
                #expect(!payload.contains("already investigated") && !payload.contains("assistance plan"), "\(event.type): \(payload)")
            }
            #expect(replayed.decisions.allSatisfy { $0.implementedAt != nil })
            #expect(replayed.identification == .identifiedVictim)
            #expect(replayed.parties == [n.school, .center, n.socialWork, n.police, n.health])

            // The history as the API gives it: every event, with who did it.
            let history = try await api.send(.get, path + "/events", token: n.coordinator)
            #expect(history.array.count == stored.count)
            let metadata = history.array.compactMap { $0["metadata"] as? [String: Any] }
            #expect(metadata.count == stored.count)
            #expect(metadata.allSatisfy { $0["actor"] != nil && $0["institution"] != nil && $0["role"] != nil && $0["requestID"] != nil })

            // The school sees what became of its report.
            try await api.eventually("the school's report shown as closed") {
                let mine = try await api.send(.get, "/v1/reports/mine", token: n.schoolStaff)
                let reports = mine["reports"] as? [[String: Any]] ?? []
                return reports.count == 1 && reports[0]["status"] as? String == "closed"
                    && reports[0]["identification"] as? String == "identified_victim"
            }
            // And nothing is left in anyone's inbox.
            try await api.eventually("empty inboxes") {
                for token in [n.socialWorker, n.officer] {
                    let inbox = try await api.send(.get, "/v1/inbox", token: token)
                    if !(inbox["items"] as? [[String: Any]] ?? []).isEmpty { return false }
                }
                return true
            }
        }
    }

    @Test("a retried report with the same Idempotency-Key answers the first case and writes nothing")
    func retriedReport() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let first = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: Network.report, idempotencyKey: "report-1")
            #expect(first.status == .created)
            let count = try await api.db.eventCount()
            let retry = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: Network.report, idempotencyKey: "report-1")
            #expect(retry.status == .ok)
            #expect(retry.location == first.location)
            #expect(retry["id"] as? String == first["id"] as? String)
            #expect(try await api.db.eventCount() == count)

            // The same key for another request is refused, and writes nothing either.
            var other = Network.report
            other["urgency"] = "routine"
            let reused = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: other, idempotencyKey: "report-1")
            #expect(reused.status == .unprocessableContent || reused.status == .conflict, "\(reused.text)")
            #expect(try await api.db.eventCount() == count)
        }
    }

    @Test(
        "a retry is known by a canonical fingerprint: times a fraction of a second apart are two requests, and a fingerprint stored by an earlier release still recognises its retry"
    )
    func canonicalFingerprints() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, filed) = try await n.fileReport()
            let acknowledged = try await api.send(.post, path + "/acknowledge", token: n.coordinator, json: [:], ifMatch: filed)
            let etag = try #require(acknowledged.etag)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let due = Date().addingTimeInterval(3 * 86_400).timeIntervalSince1970.rounded()
            func referral(_ fraction: Double) -> [String: Any] {
                [
                    "to": n.socialWork.rawValue.uuidString, "reason": "assessment",
                    "due": formatter.string(from: Date(timeIntervalSince1970: due + fraction)),
                ]
            }
            let sent = try await api.send(
                .post,
                path + "/referrals",
                token: n.coordinator,
                json: referral(0.1),
                ifMatch: etag,
                idempotencyKey: "ref-1"
            )
            #expect(sent.status == .created, "\(sent.text)")
            let retry = try await api.send(
                .post,
                path + "/referrals",
                token: n.coordinator,
                json: referral(0.1),
                ifMatch: etag,
                idempotencyKey: "ref-1"
            )
            #expect(retry.status == .ok && retry.location == sent.location, "\(retry.text)")
            let other = try await api.send(
                .post,
                path + "/referrals",
                token: n.coordinator,
                json: referral(0.4),
                ifMatch: etag,
                idempotencyKey: "ref-1"
            )
            #expect(other.status == .unprocessableContent, "\(other.text)")

            // A step recorded by a release that fingerprinted requests the old way: stored here as
            // that release stored it, then retried through the API.
            let location = try #require(sent.location)
            let received = try await api.send(.post, location + "/receive", token: n.socialWorker, json: [:], ifMatch: sent.etag)
            #expect(received.status == .ok, "\(received.text)")
            let caseID = try #require(CaseID(String(path.split(separator: "/").last!)))
            let referralID = try #require(ReferralID(String(location.split(separator: "/").last!)))
            let stored = try await api.db.store.readStream(Streams.case(caseID))
            let metadata = try #require(stored.last?.metadata)
            let actor = try EventCoding.decoder.decode(CommandMetadata.self, from: metadata).actor
            let step = CaseEvent.referralAccepted(.init(referral: referralID, by: n.socialWork, note: nil))
            _ = try await api.db.store.append(
                to: Streams.case(caseID),
                expected: .exactly(Int64(stored.count)),
                events: [
                    EventData(type: step.typeName, schemaVersion: step.schemaVersion, payload: try step.encodePayload(with: EventCoding.encoder))
                ],
                metadata: EventMetadata(json: metadata),
                idempotencyKey: "\(actor):acc-1",
                requestFingerprint: CaseService.legacyFingerprint(.acceptReferral(referralID, note: nil), on: caseID)
            )
            let acceptedETag = "\"\(stored.count + 1)\""
            let again = try await api.send(
                .post,
                location + "/accept",
                token: n.socialWorker,
                json: [:],
                ifMatch: received.etag,
                idempotencyKey: "acc-1"
            )
            #expect(again.status == .ok && again.etag == acceptedETag, "\(again.text)")
        }
    }
}
