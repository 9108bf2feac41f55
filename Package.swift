// swift-tools-version:6.0
// FaceRecognition for Swift: C inference kernels (CFaceNet), the recognition library and CLI,
// and the cloud pipeline. No unsafeFlags anywhere: this package is meant to be depended on.
import PackageDescription

let package = Package(
    name: "FaceRecognition",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FaceRecognition", targets: ["FaceRecognition"]),
        .library(name: "CloudPipeline", targets: ["CloudPipeline"]),
        // The recognition service for servers that embed it: engine and batching, the upload
        // API's routes (mountable on an app's own Hummingbird router), worker fleet glue.
        .library(name: "FaceRecognitionService", targets: ["FaceRecognitionService"]),
        // The C kernels as a shared library, for C and Python callers (Benchmarks/interleaved.py
        // times it against ONNX Runtime in one process through cfacenet.h).
        .library(name: "CFaceNetShared", type: .dynamic, targets: ["CFaceNet"]),
        .executable(name: "facerec", targets: ["facerec"]),
        .executable(name: "facerec-server", targets: ["facerec-server"]),
        .executable(name: "facerec-worker", targets: ["facerec-worker"]),
        .executable(name: "facerec-autoscaler", targets: ["facerec-autoscaler"]),
        .executable(name: "facerec-send", targets: ["facerec-send"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.62.0"),
        // Shared face collections for several server replicas (LISTEN/NOTIFY keeps them current).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        // `swift package generate-documentation`: the DocC catalogs of the three libraries.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // System libraries, found through pkg-config (Debian: libopenblas-dev, libjpeg-dev,
        // libpng-dev, libsqlite3-dev, libcurl4-openssl-dev).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg-dev"]), .brew(["jpeg-turbo"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),

        // The networks' forward passes: math only, a small public header, error codes.
        .target(name: "CFaceNet", dependencies: ["COpenBLAS"], linkerSettings: [.linkedLibrary("m")]),
        // CFaceNet's test entries (kernels and layer ops checked one by one), for the tests only.
        .target(name: "CFaceNetTesting", dependencies: ["CFaceNet"]),

        // libjpeg/libpng behind a setjmp-safe C shim: their errors longjmp, which Swift can't.
        .target(name: "CImageIO", dependencies: ["CJPEG", "CPNG"]),

        // Decoding, weights, detection, embeddings, galleries.
        .target(name: "FaceRecognition", dependencies: ["CFaceNet", "CImageIO", "COpenBLAS"]),

        // S3/SQS/EC2 clients, local backends, worker and auto-scaler logic.
        .target(name: "CloudPipeline", dependencies: [
            "CSQLite", "CCurl",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "facerec", dependencies: [
            "FaceRecognition",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "FaceRecBenchmarks", dependencies: ["FaceRecognition", "CFaceNet", "COpenBLAS"],
                          path: "Benchmarks/FaceRecBenchmarks"),

        // The service: the glue between the library and the pipeline, and the upload API. A
        // library product, so it depends on no command-line parser.
        .target(name: "FaceRecognitionService", dependencies: [
            "FaceRecognition", "CloudPipeline", "CSQLite",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ],
        // The web console's sources; ConsoleAssets.swift carries them (generate-swift.py).
        exclude: ["Console/Assets"]),
        // The runnable examples: thin mains over the service, sharing their option groups.
        .target(name: "ServiceCommandLine", dependencies: [
            "FaceRecognitionService", "FaceRecognition", "CloudPipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Examples/ServiceCommandLine"),
        .executableTarget(name: "facerec-server", dependencies: [
            "FaceRecognitionService", "ServiceCommandLine", "CloudPipeline", "FaceRecognition",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Examples/Server"),
        .executableTarget(name: "facerec-worker", dependencies: [
            "FaceRecognitionService", "ServiceCommandLine", "CloudPipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Examples/Worker"),
        .executableTarget(name: "facerec-autoscaler", dependencies: [
            "FaceRecognitionService", "ServiceCommandLine", "CloudPipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Examples/AutoScaler"),
        .executableTarget(name: "facerec-send", dependencies: [
            "FaceRecognitionService", "ServiceCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Examples/SendImages"),

        .testTarget(name: "FaceRecognitionTests", dependencies: ["FaceRecognition", "CFaceNet", "CFaceNetTesting", "CloudPipelineTestSupport"]),
        // The moto server launcher, boto3 runner, logical clock and scratch files the test targets use.
        .target(name: "CloudPipelineTestSupport", dependencies: ["CloudPipeline"], path: "Tests/Support/CloudPipelineTestSupport"),
        .testTarget(name: "CloudPipelineTests", dependencies: ["CloudPipeline", "CloudPipelineTestSupport"]),
        .testTarget(name: "ServiceTests", dependencies: [
            "FaceRecognitionService", "CloudPipeline", "FaceRecognition", "CloudPipelineTestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)
