import Foundation
import Logging
import PostgresNIO
import SponaEventStore
import SponaTestSupport
import Testing

/// The connection to PostgreSQL is verified as libpq verifies it: an operator's own
/// certificate authority (CloudNativePG issues one) is trusted through `sslrootcert`, and a
/// server it did not sign is refused.
@Suite("TLS to PostgreSQL")
struct TLSTests {
    @Test("sslrootcert: verify-full trusts the operator's own authority, refuses a server another one signed, and names an unreadable file")
    func operatorsAuthority() async throws {
        let folder = URL(fileURLWithPath: "/tmp/spona-tls-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        defer { try? FileManager.default.removeItem(at: folder) }
        func openssl(_ arguments: [String]) async throws {
            let result = try await runProcess("/usr/bin/openssl", arguments)
            guard result.status == 0 else { throw TLSFailure(text: "openssl \(arguments.first ?? ""): \(result.errorOutput)") }
        }
        func file(_ name: String) -> String { folder.appendingPathComponent(name).path }
        for authority in ["ca", "other-ca"] {
            try await openssl([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=\(authority)",
                "-keyout", file("\(authority).key"), "-out", file("\(authority).pem"),
            ])
        }
        try await openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", file("server.key"), "-out", file("server.csr"),
        ])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: file("san.ext"), atomically: true, encoding: .utf8)
        try await openssl([
            "x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial",
            "-days", "2", "-extfile", file("san.ext"), "-out", file("server.crt"),
        ])
        // PostgreSQL reads its key only when its own user owns it and nobody else may.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file("server.key"))
        if getuid() == 0 {
            _ = try await runProcess("/usr/bin/chown", ["spona-pg", file("server.key"), file("server.crt")])
        }

        let cluster = try await TestCluster.start(settings: [
            "ssl = on", "ssl_cert_file = '\(file("server.crt"))'", "ssl_key_file = '\(file("server.key"))'",
        ])
        defer { cluster.stop() }
        func url(_ parameters: String) -> String {
            cluster.adminURL.replacingOccurrences(of: "sslmode=disable", with: parameters)
                .replacingOccurrences(of: "@127.0.0.1:", with: "@localhost:")
        }
        let logger = Logger(label: "spona.test.tls")
        func connects(_ parameters: String) async -> Bool {
            guard let configuration = try? DatabaseURL(url(parameters)).configuration else { return false }
            return
                (try? await withTimeout(.seconds(15)) {
                    try await withPostgresClient(configuration, logger: logger) { client in
                        let rows = try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: logger)
                        for try await ssl in rows.decode(Bool.self) { return ssl }
                        return false
                    }
                }) ?? false
        }

        #expect(await connects("sslmode=verify-full&sslrootcert=\(file("ca.pem"))"), "the operator's authority signed this server")
        #expect(await connects("sslmode=verify-ca&sslrootcert=\(file("ca.pem"))"))
        #expect(!(await connects("sslmode=verify-full&sslrootcert=\(file("other-ca.pem"))")), "another authority's server was trusted")
        #expect(!(await connects("sslmode=verify-full")), "a private authority was trusted without sslrootcert")
        #expect(await connects("sslmode=require"), "require encrypts without verifying, as libpq's does")

        #expect(throws: DatabaseURL.ParseError.self) { try DatabaseURL(url("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")) }
        do {
            _ = try DatabaseURL(url("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"))
        } catch {
            #expect(error.description == "sslrootcert '/nonexistent/ca.pem' is not a readable PEM file")
        }
    }
}

struct TLSFailure: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
}
