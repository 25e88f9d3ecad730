// swift-tools-version:6.0
// The load generator of the benchmark suite (see README.md beside this file). A package of
// its own, so the daemon's package carries no benchmark dependencies.
import PackageDescription

let package = Package(
    name: "rdlm-benchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rdlm-loadgen", targets: ["rdlm-loadgen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "rdlm-loadgen",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
