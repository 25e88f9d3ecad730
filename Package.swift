// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "rdlm",
    // Linux only: rdlmd calls glibc directly (malloc_trim, clock_gettime, fcntl locks) and
    // nothing here is built or tested on an Apple platform, so none is declared.
    products: [
        .library(name: "RDLMWire", targets: ["RDLMWire"]),
        .library(name: "RDLMCore", targets: ["RDLMCore"]),
        .library(name: "RDLMServer", targets: ["RDLMServer"]),
        .library(name: "RDLMEtcd", targets: ["RDLMEtcd"]),
        .executable(name: "rdlmd", targets: ["rdlmd"]),
        .library(name: "RDLMClient", targets: ["RDLMClient"]),
        .executable(name: "rdlm", targets: ["rdlm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        // The wire contract in code: the rules both sides share (resource names, seconds,
        // JSON values and strings, base64, what a status means). No dependencies.
        .target(name: "RDLMWire"),
        .testTarget(name: "RDLMWireTests", dependencies: ["RDLMWire"]),
        // What the server and client tests share: waiting for a condition, never sleeping.
        .target(name: "RDLMTestSupport", path: "Tests/RDLMTestSupport"),
        // The lock table: pure Swift, no I/O, no clock of its own.
        .target(
            name: "RDLMCore",
            dependencies: [.product(name: "DequeModule", package: "swift-collections")]
        ),
        // The HTTP face on SwiftNIO: NIOHTTP1's request decoder; answers and pipelining its own.
        .target(
            name: "RDLMServer",
            dependencies: [
                "RDLMCore",
                "RDLMWire",
                "RDLMEtcd",
                "CSystemMemory",
                "CCrypt",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // Built into the binary, so an rdlmd installed alone serves them: GET /openapi.yaml
            // (OpenAPI/openapi.yaml is a symlink to docs/openapi.yaml, the one copy) and the
            // admin web page; no files are read at run time.
            resources: [
                .embedInCode("OpenAPI/openapi.yaml"),
                .embedInCode("UI/ui.html"), .embedInCode("UI/app.js"), .embedInCode("UI/table.js"), .embedInCode("UI/app.css"),
            ]
        ),
        // An etcd v3 client over etcd's JSON gateway (HTTP/1.1 on SwiftNIO), with failover
        // across members and a watch that survives a member's loss: the etcd backend's base.
        .target(
            name: "RDLMEtcd",
            dependencies: [
                "RDLMWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Against a real 3-member cluster (scripts/etcd-cluster.sh, RDLM_TEST_ETCD_DIR).
        .testTarget(
            name: "RDLMEtcdTests",
            dependencies: [
                "RDLMEtcd",
                "RDLMTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "rdlmd",
            dependencies: [
                "RDLMServer",
                "RDLMCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "RDLMCoreTests", dependencies: ["RDLMCore"]),
        .testTarget(
            name: "RDLMServerTests",
            dependencies: [
                "RDLMServer",
                "RDLMEtcd",
                "RDLMTestSupport",
                "RDLMCore",
                "RDLMWire",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // glibc's malloc tuning (malloc.h), which the Glibc module does not export.
        .systemLibrary(name: "CSystemMemory"),
        // libxcrypt's crypt_rn and crypt_checksalt: the hashed lines of the admin userpass
        // file (bcrypt, yescrypt, SHA-512 crypt), never checked with crypto of our own.
        .systemLibrary(
            name: "CCrypt",
            pkgConfig: "libxcrypt",
            providers: [.apt(["libcrypt-dev"])]
        ),
        // libcurl, with typed shims for its variadic setopt/getinfo calls.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        // The Swift client: async/await over one curl multi handle on its own thread.
        .target(name: "RDLMClient", dependencies: ["CCurl", "RDLMWire"]),
        // The command-line client: scripting, a command under a lock, admin listing, a benchmark.
        .executableTarget(
            name: "rdlm",
            dependencies: [
                "RDLMClient",
                "RDLMWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(
            name: "RDLMClientTests",
            dependencies: [
                "RDLMClient",
                "RDLMTestSupport",
                "RDLMServer",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Examples/swift: processes adding to a shared counter file under withLock.
        .executableTarget(
            name: "counter-example",
            dependencies: ["RDLMClient"],
            path: "Examples/swift",
            exclude: ["README.md", "run.sh"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
