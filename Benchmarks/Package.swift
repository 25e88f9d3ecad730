// swift-tools-version:6.0
// The benchmark suite's programs (see README.md beside this file). A package of its own, so
// the daemon's package carries no benchmark code or dependencies: rdlm-loadgen needs only
// SwiftNIO (and swift-nio-ssl for HTTPS); rdlm-client-bench uses the root package's RDLMClient and RDLMServer by path.
import PackageDescription

let package = Package(
    name: "rdlm-benchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rdlm-loadgen", targets: ["rdlm-loadgen"]),
        .executable(name: "rdlm-client-bench", targets: ["rdlm-client-bench"]),
    ],
    dependencies: [
        // Named: a path dependency's identity is its folder's name, which differs per checkout.
        .package(name: "rdlm", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "rdlm-loadgen",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Drives concurrent acquire/release cycles through RDLMClient and reports latencies.
        .executableTarget(
            name: "rdlm-client-bench",
            dependencies: [
                .product(name: "RDLMClient", package: "rdlm"),
                .product(name: "RDLMServer", package: "rdlm"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md", "wrk-cycles.lua", "wrk-acquire.lua"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
