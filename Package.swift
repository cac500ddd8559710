// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "sandman",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sandman", targets: ["sandman"]),
        .executable(name: "sandman-bench", targets: ["Benchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C libraries, each behind a thin shim; only their one wrapper module imports them.
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // The Lua sandbox's C side: limits, and bounded versions of the library functions that
        // can run long in C (docs/plugins.md).
        .target(name: "CLuaSandbox", dependencies: ["CLua"]),

        .target(
            name: "Transport",
            dependencies: ["CCurl"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "LocalPKI",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "JSON",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KubeSim",
            dependencies: [
                "JSON", "LocalPKI", "Scheduling",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SimulatorKit",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GitLabSim",
            dependencies: [
                "JSON", "Transport", "SimulatorKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ArgoSim",
            dependencies: [
                "JSON", "Kube", "Transport", "SimulatorKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Kube",
            dependencies: [
                "Transport", "JSON", "Scheduling",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Scripting",
            dependencies: [
                "CLua", "CLuaSandbox", "JSON", "Scheduling",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Sleep",
            dependencies: [
                "Kube", "JSON", "Scheduling", "Store",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Scheduling",
            // Pure schedule logic that every evaluation and the randomized model tests lean on: optimized
            // even in debug builds, where it is otherwise twenty times slower.
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .target(
            name: "Config",
            dependencies: [
                "JSON",
                "Scheduling",
                "Sleep",
                "Store",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Store",
            dependencies: [
                "Scheduling",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GitOps",
            dependencies: [
                "JSON", "Transport",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Hub",
            dependencies: [
                "Config", "GitOps", "Kube", "Scheduling", "Scripting", "Sleep", "Store", "Transport", "JSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Demo",
            dependencies: [
                "Hub", "Config", "Kube", "KubeSim", "GitLabSim", "ArgoSim", "Store",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sandman",
            dependencies: [
                "Hub", "Config", "Demo", "KubeSim", "GitLabSim", "ArgoSim", "Scripting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "Benchmarks",
            dependencies: [
                "Hub", "Config", "Demo", "GitOps", "GitLabSim", "ArgoSim", "Kube", "KubeSim", "LocalPostgres", "Scheduling", "Scripting", "Sleep", "Store",
                "Transport", "JSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // A throwaway PostgreSQL server (initdb on a free loopback port), for tests and benchmarks.
        .target(name: "LocalPostgres", dependencies: ["Kube"], swiftSettings: swiftSettings),
        // Shared by the test targets: certificates, small real servers, temporary files.
        .target(
            name: "TestSupport",
            dependencies: [
                "LocalPKI", "Kube", "JSON", "LocalPostgres",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "TestSupport", "LocalPKI"], swiftSettings: swiftSettings),
        .testTarget(name: "KubeSimTests", dependencies: ["KubeSim", "Kube", "JSON", "Transport", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "GitLabSimTests", dependencies: ["GitLabSim", "JSON", "Transport", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ArgoSimTests", dependencies: ["ArgoSim", "GitLabSim", "KubeSim", "Kube", "JSON", "Transport", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "GitOpsTests",
            dependencies: ["GitOps", "GitLabSim", "ArgoSim", "KubeSim", "Kube", "JSON", "Transport", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "KubeTests", dependencies: ["Kube", "KubeSim", "JSON", "LocalPKI", "Scheduling", "Transport", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ScriptingTests", dependencies: ["Scripting", "JSON", "Scheduling", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "SleepTests", dependencies: ["Sleep", "Kube", "KubeSim", "JSON", "Scheduling", "Store", "TestSupport", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(
            name: "HubTests",
            dependencies: [
                "Hub", "Demo", "Config", "Kube", "KubeSim", "GitLabSim", "ArgoSim", "JSON", "Scheduling", "Sleep", "Store", "Transport", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "JSONTests", dependencies: ["JSON", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SchedulingTests", dependencies: ["Scheduling", "TestSupport"],
            // Its randomized model test plays 10,000 sequences.
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "Sleep", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "StoreTests", dependencies: ["Scheduling", "Store", "TestSupport"], swiftSettings: swiftSettings),
    ]
)
