// swift-tools-version:6.0
// libFuzzer targets for every parser of untrusted bytes (after swift-protobuf's FuzzTesting).
// A separate package so the main one never carries sanitizer flags: scripts/fuzz.sh builds it
// with `-sanitize=fuzzer,address` for Swift and `-fsanitize=fuzzer-no-link,address` for the C
// targets it pulls in (CImageIO, CFaceNet), linking with lld. Each target is one small
// executable whose top-level code hands its per-input callback to libFuzzer (FuzzDriver).
import PackageDescription

let package = Package(
    name: "FaceRecognitionFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "FaceRecognition", path: ".."),
    ],
    targets: [
        .target(name: "FuzzDriver"),
        .target(name: "FuzzAWSSupport", dependencies: [
            .product(name: "CloudPipeline", package: "FaceRecognition"),
        ]),

        .executableTarget(name: "FuzzImageDecoder", dependencies: [
            "FuzzDriver", .product(name: "FaceRecognition", package: "FaceRecognition"),
        ]),
        .executableTarget(name: "FuzzWeights", dependencies: [
            "FuzzDriver", .product(name: "FaceRecognition", package: "FaceRecognition"),
        ]),
        .executableTarget(name: "FuzzS3XML", dependencies: [
            "FuzzDriver", "FuzzAWSSupport", .product(name: "CloudPipeline", package: "FaceRecognition"),
        ]),
        .executableTarget(name: "FuzzSQSJSON", dependencies: [
            "FuzzDriver", "FuzzAWSSupport", .product(name: "CloudPipeline", package: "FaceRecognition"),
        ]),
        .executableTarget(name: "FuzzAWSXML", dependencies: [
            "FuzzDriver", .product(name: "CloudPipeline", package: "FaceRecognition"),
        ]),
        .executableTarget(name: "FuzzEC2XML", dependencies: [
            "FuzzDriver", "FuzzAWSSupport", .product(name: "CloudPipeline", package: "FaceRecognition"),
        ]),
        .executableTarget(name: "FuzzJobMessage", dependencies: [
            "FuzzDriver", .product(name: "CloudPipeline", package: "FaceRecognition"),
        ]),
        // MultipartFormData.swift is a symlink to Sources/FaceRecognitionService/HTTP/MultipartFormData.swift.
        .executableTarget(name: "FuzzMultipart", dependencies: ["FuzzDriver"]),
    ]
)
