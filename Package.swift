// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Stowage",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "stowage", targets: ["stowage"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        // Only the benchmarks: the peer bench/metrics.sh measures KubeRuntime's registry against.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C at the edge: system libraries with static inline shims for variadic calls.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // CRC-32C with the CPU's CRC instruction: S3's per-part checksum (x-amz-checksum-crc32c).
        .target(name: "CChecksum"),

        .target(name: "YAML", dependencies: ["CYAML"]),
        .target(name: "HTTP", dependencies: ["CCurl"]),
        .target(name: "KubeModel"),
        .target(name: "KubeClient", dependencies: ["HTTP", "YAML", "KubeModel"]),
        // S3 client (SigV4 over HTTP) and the sync engine the sync pods run.
        .target(name: "ObjectStore", dependencies: ["HTTP", "CChecksum", .product(name: "Crypto", package: "swift-crypto")]),
        // The contract between the operator and its sync pods: `stowage sync`'s arguments,
        // exit codes, progress lines and the record a pod leaves. No I/O.
        .target(name: "SyncContract", dependencies: ["KubeModel"]),
        .target(name: "DataSync", dependencies: ["ObjectStore", "HTTP", "SyncContract", .product(name: "Crypto", package: "swift-crypto")]),
        // Controller machinery: watcher, cache, work queue, controllers, leader election,
        // events, finalizers, health and metrics.
        .target(name: "KubeRuntime", dependencies: [
            "KubeClient", "KubeModel",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "HeapModule", package: "swift-collections"),
        ]),
        .target(name: "KubeTesting", dependencies: ["HTTP", "KubeClient", "KubeModel"]),
        // Stowage's own API: DataVolume, SharedVolume, access levels, entitlements. No I/O.
        .target(name: "StowageAPI", dependencies: ["KubeModel", "SyncContract", "YAML", .product(name: "Crypto", package: "swift-crypto")]),
        // The reconcilers and the builders of their children (PVC, sync Job).
        .target(name: "Controllers", dependencies: [
            "StowageAPI", "SyncContract", "KubeRuntime", "KubeClient", "KubeModel",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Admission webhook: mutate and validate pods, validate volumes; TLS with reload.
        // Beside the controllers, not above them: what both read is in StowageAPI.
        .target(name: "Webhook", dependencies: [
            "StowageAPI", "KubeRuntime", "KubeClient", "KubeModel",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),

        .executableTarget(
            name: "stowage",
            dependencies: [
                "HTTP", "YAML", "KubeClient", "ObjectStore", "DataSync", "StowageAPI", "SyncContract", "Controllers", "KubeRuntime", "Webhook",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .executableTarget(name: "stowage-bench", dependencies: [
            "KubeClient", "KubeModel", "StowageAPI", "KubeRuntime", "Controllers", "Webhook",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], path: "bench/Sources/stowage-bench"),

        .testTarget(name: "YAMLTests", dependencies: ["YAML"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "KubeTesting"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "KubeModel", "KubeTesting"]),
        .testTarget(name: "KubeRuntimeTests", dependencies: [
            "KubeRuntime", "KubeClient", "KubeModel", "KubeTesting", "HTTP",
            .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "ObjectStoreTests", dependencies: ["ObjectStore", "KubeTesting"]),
        .testTarget(name: "DataSyncTests", dependencies: ["DataSync", "SyncContract", "ObjectStore", "KubeTesting"]),
        .testTarget(name: "SyncContractTests", dependencies: ["SyncContract"]),
        // The `stowage` command's own parsing, against the contract the operator writes.
        .testTarget(name: "StowageCommandTests", dependencies: [
            "stowage", "SyncContract", "StowageAPI", "Controllers", "KubeModel",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ControllersTests", dependencies: [
            "Controllers", "StowageAPI", "SyncContract", "KubeRuntime", "KubeClient", "KubeModel", "KubeTesting", "ObjectStore", "HTTP",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "WebhookTests", dependencies: ["Webhook", "Controllers", "StowageAPI", "SyncContract", "KubeRuntime", "KubeClient", "KubeModel", "KubeTesting"]),
        .testTarget(name: "StowageAPITests", dependencies: ["StowageAPI", "SyncContract", "KubeModel", "KubeClient", "KubeTesting", "YAML"]),
    ],
    swiftLanguageModes: [.v6]
)

// Every target: `any` spelled out for existentials, and a file sees only what it imports.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ]
}
