// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "pingroll",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pingroll", targets: ["pingroll"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // One system-library target per C library; each is imported by exactly one Swift module.
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd",
                       providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // Domain: payload facts, JSON scanning, timestamps, multipart. Imports no C.
        .target(name: "PingRollCore"),
        // Storage protocol, SQL, migrations, the SQLite backend and the group committer.
        .target(name: "PingRollStore", dependencies: [
            "PingRollCore", "CSQLite", "CZstd", "CLibPQ", "CCrypto",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Use cases both fronts share: ping intake (extract, compress, refuse), bulk import, gzip.
        .target(name: "PingRollService", dependencies: ["PingRollCore", "PingRollStore", "CZlib", "CCurl"]),
        // The configuration files (`serve --config`, `--pull-config`): YAML read by walking its node tree.
        .target(name: "PingRollConfig", dependencies: [
            "PingRollService", .product(name: "Yams", package: "Yams"),
        ]),
        // libmicrohttpd adapter, router and handlers.
        .target(name: "PingRollHTTP", dependencies: [
            "PingRollCore", "PingRollService", "CMicroHTTPD",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], exclude: ["UI/dashboard.html", "UI/explore.html", "UI/installation.html", "UI/beta.html", "UI/upload.html",
              "UI/pingroll.js", "UI/dashboard.js", "UI/explore.js", "UI/installation.js", "UI/beta.js",
              "UI/dashboard.css", "UI/explore.css", "UI/installation.css", "UI/beta.css", "UI/upload.css"]),  // embedded by scripts/embed-defaults.py (EmbeddedPages.swift)
        .executableTarget(name: "pingroll", dependencies: [
            "PingRollCore", "PingRollStore", "PingRollService", "PingRollHTTP", "PingRollConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Benchmarks that print figures against a ceiling measured in the same run.
        .executableTarget(name: "pingroll-bench", dependencies: ["PingRollCore", "PingRollStore", "PingRollService"]),
        // libFuzzer target for the parsers (scripts/fuzz.sh); a plain build replays a corpus.
        .executableTarget(name: "pingroll-fuzz", dependencies: ["PingRollCore", "PingRollService", "PingRollConfig"]),

        .testTarget(name: "PingRollCoreTests", dependencies: ["PingRollCore"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "PingRollStoreTests", dependencies: ["PingRollStore", "PingRollService", "PingRollCore"]),
        .testTarget(name: "PingRollConfigTests", dependencies: ["PingRollConfig"]),
        .testTarget(name: "PingRollHTTPTests", dependencies: ["PingRollHTTP", "PingRollService", "PingRollStore", "PingRollCore"]),
        // Runs the built `pingroll` binary over real sockets; `swift build` must have run first.
        .testTarget(name: "EndToEndTests", dependencies: ["PingRollCore", "PingRollStore"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)
