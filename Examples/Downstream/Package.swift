// swift-tools-version:6.0
// A package that depends on FaceRecognition as any application would, by path here (by URL in
// your own: see the README's "Using the library"). scripts/check-downstream.sh builds it and runs
// its main.swift, the README's example, on the sample data.
import PackageDescription

let package = Package(
    name: "Downstream",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "FaceRecognition", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "Downstream", dependencies: [
            .product(name: "FaceRecognition", package: "FaceRecognition"),
        ]),
    ]
)
