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
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C at the edge: system libraries with static inline shims for variadic calls.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),

        .target(name: "YAML", dependencies: ["CYAML"]),
        .target(name: "HTTP", dependencies: ["CCurl"]),
        .target(name: "KubeModel"),
        .target(name: "KubeClient", dependencies: ["HTTP", "YAML", "KubeModel"]),
        // S3 client (SigV4 over HTTP) and the sync engine the sync pods run.
        .target(name: "ObjectStore", dependencies: ["HTTP", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "DataSync", dependencies: ["ObjectStore", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "KubeTesting", dependencies: ["HTTP"]),

        .executableTarget(
            name: "stowage",
            dependencies: [
                "HTTP", "YAML", "KubeClient", "ObjectStore", "DataSync",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "YAMLTests", dependencies: ["YAML"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "KubeTesting"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "KubeModel", "KubeTesting"]),
        .testTarget(name: "ObjectStoreTests", dependencies: ["ObjectStore", "KubeTesting"]),
        .testTarget(name: "DataSyncTests", dependencies: ["DataSync", "ObjectStore", "KubeTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
