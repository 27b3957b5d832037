import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import SponaHTTP

/// No request waits longer than its deadline, whatever it waits for.
@Suite("Request deadline")
struct DeadlineTests {
    @Test("a request stuck in a wait that ignores cancellation is answered 503 with Retry-After at the deadline")
    func stuckRequestIsAnswered() async throws {
        let router = Router(context: SponaRequestContext.self)
        router.get("/stuck") { _, _ -> String in
            // As a query on a connection the server dropped: suspended, deaf to cancellation.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + 30) { done.resume() }
            }
            return "late"
        }
        router.get("/quick") { _, _ in "ok" }
        let app = Application(responder: DeadlineResponder(responder: router.buildResponder(), limit: .milliseconds(300)))
        try await app.test(.router) { client in
            let started = ContinuousClock.now
            try await client.execute(uri: "/stuck", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "5")
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(String(buffer: response.body).contains("urn:spona:problem:timed-out"))
            }
            // The deadline is 0.3 s and the work ends after 30 s; a loaded test machine may take
            // seconds to schedule the answer, never the work's 30.
            #expect(ContinuousClock.now - started < .seconds(15), "answered at the deadline, not when the work ended")
            try await client.execute(uri: "/quick", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok")
            }
        }
    }
}
