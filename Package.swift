// swift-tools-version:6.1
import PackageDescription

// One target per layer, dependencies pointing one way only:
//   SponaDomain (pure rules)        SponaEventStore (generic, knows no domain)
//            \                         /
//   SponaRecords (how the domain's facts are stored: streams, coding, metadata)
//            /                         \
//   SponaApplication (commands)     SponaProjections (read models)
//            \                         /
//                SponaHTTP, spona (the command)      SponaIdentity (sign-in: domain + JWT)
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "spona",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spona", targets: ["spona"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // Tests only: the OpenAPI document is parsed and validated as a client generator would.
        .package(url: "https://github.com/mattpolzin/OpenAPIKit.git", from: "6.4.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // The referral network's rules: value types and pure functions, no I/O.
        .target(name: "SponaDomain", swiftSettings: swiftSettings),

        // The append-only event store on PostgreSQL. Generic: knows streams and events, not cases.
        .target(
            name: "SponaEventStore",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Applies the numbered SQL files of `Schema/` exactly once, in order, with checksums.
        .target(
            name: "SchemaMigrations",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Commands in, events out: joins the domain's rules to the store.
        .target(
            name: "SponaRecords",
            dependencies: [
                "SponaDomain",
                "SponaEventStore",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SponaApplication",
            dependencies: [
                "SponaDomain",
                "SponaEventStore",
                "SponaRecords",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Folds of the event history into the views regional teams read.
        .target(
            name: "SponaProjections",
            dependencies: [
                "SponaDomain",
                "SponaEventStore",
                "SponaRecords",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // Who is calling: the network's identity provider's access tokens (OpenID Connect),
        // checked against its published keys and mapped to a person, institution and role.
        .target(
            name: "SponaIdentity",
            dependencies: [
                "SponaDomain",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // The HTTP API (Hummingbird 2).
        .target(
            name: "SponaHTTP",
            dependencies: [
                "SchemaMigrations",
                "SponaApplication",
                "SponaIdentity",
                "SponaProjections",
                "SponaRecords",
                "SponaEventStore",
                "SponaDomain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.embedInCode("openapi.yaml"), .embedInCode("Dashboard/Templates/page.mustache")],
            swiftSettings: swiftSettings
        ),

        // The `spona` command: serve, migrate, audit.
        .executableTarget(
            name: "spona",
            dependencies: [
                "SponaHTTP",
                "SponaIdentity",
                "SponaProjections",
                "SchemaMigrations",
                "SponaEventStore",
                "SponaApplication",
                "SponaRecords",
                "SponaDomain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // `make bench`: throughput and latency figures beside a same-run baseline.
        .executableTarget(
            name: "SponaBench",
            dependencies: [
                "SponaEventStore",
                "SchemaMigrations",
                "SponaApplication",
                "SponaRecords",
                "SponaDomain",
                "SponaHTTP",
                "SponaProjections",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "SponaDomainTests",
            dependencies: ["SponaDomain"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),

        // Scratch databases on a real PostgreSQL for the test targets.
        .target(
            name: "SponaTestSupport",
            dependencies: [
                "SponaEventStore",
                "SchemaMigrations",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "SponaEventStoreTests",
            dependencies: [
                "SponaEventStore",
                "SchemaMigrations",
                "SponaTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SponaApplicationTests",
            dependencies: [
                "SponaApplication",
                "SponaRecords",
                "SponaDomain",
                "SponaEventStore",
                "SponaTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The projections' folds are pure: most of these tests need no database.
        .testTarget(
            name: "SponaProjectionsTests",
            dependencies: [
                "SponaProjections",
                // Histories written as the application writes them.
                "SponaApplication",
                "SponaRecords",
                "SponaDomain",
                "SponaEventStore",
                "SponaTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SponaHTTPTests",
            dependencies: [
                "SponaHTTP",
                "SponaIdentity",
                "SchemaMigrations",
                "SponaApplication",
                "SponaRecords",
                "SponaProjections",
                "SponaDomain",
                "SponaEventStore",
                "SponaTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "OpenAPIKit", package: "OpenAPIKit"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
