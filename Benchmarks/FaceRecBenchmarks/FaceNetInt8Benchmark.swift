import FaceRecognition
import Foundation

/// The synthetic-weight FaceNet (timing and the int8/float32 comparison do not need the real
/// weights) in float32, and in int8 calibrated on `calibration` crops.
private func syntheticFaceNets(calibration: [RGBImage]) throws -> (float: FaceNet, int8: FaceNet) {
    let stats = try SafeTensors.read(contentsOf: URL(fileURLWithPath: "Tests/Fixtures/facenet/bn_statistics.safetensors"))
    let weights = try SyntheticFaceNetWeights.make(runningStatistics: stats)
    return (try FaceNet(stateDict: weights), try FaceNet(stateDict: weights, precision: .int8(calibration: calibration)))
}

/// `count` face_images_* images under `folder`, sorted by name.
private func faceImages(_ folder: String, count: Int? = nil) throws -> [(name: String, image: RGBImage)] {
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".jpg") }.sorted()
    return try files.prefix(count ?? files.count).map {
        (String($0.dropLast(4)), try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent($0)))
    }
}

/// `FaceRecBenchmarks facenet-int8 [--rounds 5] [--seconds 2] [--batches 1,8] [--size 160] [--json]`:
/// int8 against float32 throughput in one process, rounds alternating which runs first; per
/// round and batch the ratio (float32 ms/face ÷ int8 ms/face), then the median per batch.
/// int8 is calibrated on 16 face_images_100 faces resized to the size.
func runFaceNetInt8Benchmark(_ arguments: [String]) throws {
    var options = BenchmarkOptions(arguments)
    let json = options.flag("--json")
    let rounds = Int(options.value("--rounds") ?? "5") ?? 5
    let seconds = Double(options.value("--seconds") ?? "2") ?? 2
    let size = Int(options.value("--size") ?? "160") ?? 160
    let batches = (options.value("--batches") ?? "1,8").split(separator: ",").compactMap { Int($0) }
    let calibration = try faceImages("SampleData/face_images_100", count: 16).map { $0.image.resizedBilinear(width: size, height: size) }
    let nets = try syntheticFaceNets(calibration: calibration)

    func msPerFace(_ facenet: FaceNet, batch: Int) throws -> Double {
        var input = [Float](repeating: 0, count: batch * 3 * size * size)
        var seed: UInt32 = 12345
        for i in input.indices {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            input[i] = Float(seed >> 8) / Float(1 << 24) * 2 - 1
        }
        _ = try facenet.embed(standardized: input, count: batch, height: size, width: size) // warm-up
        var runs = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            _ = try facenet.embed(standardized: input, count: batch, height: size, width: size)
            runs += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds || runs < 3
        return elapsed * 1000 / Double(runs * batch)
    }

    var ratios: [Int: [Double]] = [:]
    for round in 0..<rounds {
        var load = [Double](repeating: 0, count: 3)
        getloadavg(&load, 3)
        if !json {
            print(String(format: "round %d of %d (%@ first), load average %.2f %.2f %.2f", round + 1, rounds,
                         round % 2 == 0 ? "float32" : "int8", load[0], load[1], load[2]))
        }
        for batch in batches {
            var float = 0.0, int8 = 0.0
            if round % 2 == 0 {
                float = try msPerFace(nets.float, batch: batch)
                int8 = try msPerFace(nets.int8, batch: batch)
            } else {
                int8 = try msPerFace(nets.int8, batch: batch)
                float = try msPerFace(nets.float, batch: batch)
            }
            ratios[batch, default: []].append(float / int8)
            report(json: json,
                   ["suite": "facenet-int8", "round": round + 1, "first": round % 2 == 0 ? "float32" : "int8",
                    "size": size, "batch": batch, "float32_ms_per_face": float, "int8_ms_per_face": int8,
                    "ratio": float / int8, "load": load[0]],
                   text: String(format: "  %d×%d batch %d: float32 %.2f ms/face, int8 %.2f ms/face: %.2f×", size, size,
                                batch, float, int8, float / int8))
        }
    }
    if json { return }
    print("int8 speed-up over float32 (float32 time / int8 time), median of \(rounds) rounds:")
    for batch in batches {
        let sorted = ratios[batch, default: []].sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        print(String(format: "  batch %d: median %.2f× (rounds: %@)", batch, median,
                     sorted.map { String(format: "%.2f", $0) }.joined(separator: " ")))
    }
}

/// `FaceRecBenchmarks facenet-int8-accuracy [--data ../shared/data] [--set face_images_1000]
/// [--size 240] [--calibrate-on photos|face_images_100] [--json]`: the course pipeline's crops (MTCNN at
/// --size, the largest face) of every image of the set, embedded by the float32 and the int8
/// network (calibrated on every face of the photos in `<data>/photos`, cropped the same way:
/// faces the set does not contain; or on face_images_100's, the set's own photos): the cosine
/// similarity of each pair, and how often both name the same nearest data.pt entry (torch.dist).
func runFaceNetInt8Accuracy(_ arguments: [String]) throws {
    var options = BenchmarkOptions(arguments)
    let json = options.flag("--json")
    let data = options.value("--data") ?? "../shared/data"
    let set = options.value("--set") ?? "face_images_1000"
    let size = Int(options.value("--size") ?? "240") ?? 240
    let detector = try MTCNN(weightsDirectory: MTCNN.defaultWeightsDirectory, options: MTCNNOptions(imageSize: size))
    let calibration: [RGBImage], calibratedOn: String
    if options.value("--calibrate-on") == "face_images_100" {
        // The same ten photos as face_images_1000: calibration on the faces measured.
        calibration = try faceImages("SampleData/face_images_100", count: 16).compactMap { try detector.extractFaces($0.image).first?.image }
        calibratedOn = "the largest faces of face_images_100's test_00 … test_15"
    } else {
        let everyFace = try MTCNN(weightsDirectory: MTCNN.defaultWeightsDirectory, options: MTCNNOptions(keepAll: true, imageSize: size))
        let photos = try FileManager.default.contentsOfDirectory(atPath: "\(data)/photos").filter { $0.hasSuffix(".jpg") }.sorted()
        calibration = try photos.flatMap {
            try everyFace.extractFaces(try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "\(data)/photos/\($0)"))).map(\.image)
        }
        calibratedOn = "\(calibration.count) faces of \(photos.joined(separator: ", "))"
    }
    if !json { print("calibrated on \(calibratedOn)") }
    let nets = try syntheticFaceNets(calibration: calibration)
    let matcher = GalleryMatcher(gallery: try Gallery.load(contentsOf: URL(fileURLWithPath: "SampleData/data.pt")))
    let images = try faceImages("\(data)/\(set)")
    var cosines: [Float] = [], agree = 0, faces = 0, noFace = 0
    var disagreements: [String] = []
    for start in stride(from: 0, to: images.count, by: 16) {
        let chunk = images[start..<min(start + 16, images.count)]
        var names: [String] = [], crops: [RGBImage] = []
        for (name, image) in chunk {
            guard let crop = try detector.extractFaces(image).first else { noFace += 1; continue }
            names.append(name)
            crops.append(crop.image)
        }
        guard !crops.isEmpty else { continue }
        let float = try nets.float.embed(crops), int8 = try nets.int8.embed(crops)
        let nearestFloat = try matcher.nearest(float, k: 2), nearestInt8 = try matcher.nearest(int8, k: 1)
        for i in crops.indices {
            cosines.append(zip(float[i], int8[i]).reduce(0) { $0 + $1.0 * $1.1 })
            faces += 1
            if nearestFloat[i][0].name == nearestInt8[i][0].name { agree += 1 } else {
                let margin = nearestFloat[i][1].distance - nearestFloat[i][0].distance
                disagreements.append(String(format: "%@: float32 %@, int8 %@ (float32 margin %.4f)", names[i],
                                            nearestFloat[i][0].name, nearestInt8[i][0].name, margin))
            }
        }
    }
    let sorted = cosines.sorted()
    if json {
        report(json: true, ["suite": "facenet-int8-accuracy", "set": set, "size": size, "faces": faces, "no_face": noFace,
                            "calibrated_on": calibratedOn, "min_cosine": Double(sorted.first ?? 0), // faces 0: no figures
                            "p1_cosine": sorted.isEmpty ? 0 : Double(sorted[sorted.count / 100]),
                            "median_cosine": sorted.isEmpty ? 0 : Double(sorted[sorted.count / 2]),
                            "below_0995": cosines.filter { $0 < 0.995 }.count, "agree": agree,
                            "disagreements": Array(disagreements.prefix(20))], text: "")
        return
    }
    print("\(set): \(faces) faces (\(noFace) images without a face)")
    print(String(format: "cosine(int8, float32): min %.5f, 1st percentile %.5f, median %.5f; below 0.995: %d of %d",
                 sorted.first ?? .nan, sorted.isEmpty ? .nan : sorted[sorted.count / 100], sorted.isEmpty ? .nan : sorted[sorted.count / 2],
                 cosines.filter { $0 < 0.995 }.count, faces))
    print(String(format: "identify agreement with float32 (nearest data.pt entry): %d / %d = %.2f %%", agree, faces,
                 100 * Double(agree) / Double(max(faces, 1))))
    for line in disagreements.prefix(20) { print("  " + line) }
}

/// `FaceRecBenchmarks facenet-int8-layers [--data ../shared/data] [--size 240] [--groups "0;1-2;0,3"]`:
/// each layer group's share of the int8 error. The ten distinct photos of face_images_1000
/// (face_images_100's test_00 … test_09), MTCNN at --size, embedded in float32 and in int8 with
/// one group of convolutions (scale indices, groups separated by ';'; by default each stem
/// convolution, block and reduction) kept in float32 instead of the network's own choice
/// (CFACENET_INT8_FLOAT_LAYERS; "!0-103": none), calibrated on the faces of `<data>/photos`:
/// the min and mean cosine to float32 for the network's own choice ("default"), then per group.
func runFaceNetInt8Layers(_ arguments: [String]) throws {
    var options = BenchmarkOptions(arguments)
    let data = options.value("--data") ?? "../shared/data"
    let size = Int(options.value("--size") ?? "240") ?? 240
    let detector = try MTCNN(weightsDirectory: MTCNN.defaultWeightsDirectory, options: MTCNNOptions(imageSize: size))
    let everyFace = try MTCNN(weightsDirectory: MTCNN.defaultWeightsDirectory, options: MTCNNOptions(keepAll: true, imageSize: size))
    let photos = try FileManager.default.contentsOfDirectory(atPath: "\(data)/photos").filter { $0.hasSuffix(".jpg") }.sorted()
    let calibration = try photos.flatMap {
        try everyFace.extractFaces(try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "\(data)/photos/\($0)"))).map(\.image)
    }
    let crops = try faceImages("SampleData/face_images_100", count: 10).compactMap { try detector.extractFaces($0.image).first?.image }
    let stats = try SafeTensors.read(contentsOf: URL(fileURLWithPath: "Tests/Fixtures/facenet/bn_statistics.safetensors"))
    let weights = try SyntheticFaceNetWeights.make(runningStatistics: stats)
    let float = try FaceNet(stateDict: weights).embed(crops)
    var groups = (0..<6).map { "\($0)" } + (0..<5).map { "\(6 + 5 * $0)-\(10 + 5 * $0)" } + ["31-34"]
    groups += (0..<10).map { "\(35 + 4 * $0)-\(38 + 4 * $0)" } + ["75-79"] + (0..<6).map { "\(80 + 4 * $0)-\(83 + 4 * $0)" }
    if let chosen = options.value("--groups") { groups = chosen.split(separator: ";").map(String.init) }
    for group in [""] + groups {
        if group.isEmpty { unsetenv("CFACENET_INT8_FLOAT_LAYERS") } else { setenv("CFACENET_INT8_FLOAT_LAYERS", group, 1) }
        let int8 = try FaceNet(stateDict: weights, precision: .int8(calibration: calibration)).embed(crops)
        let cosines = zip(float, int8).map { pair in zip(pair.0, pair.1).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
        print(String(format: "float32 %@: min %.5f mean %.5f  [%@]", group.isEmpty ? "default" : group, cosines.min()!,
                     cosines.reduce(0, +) / Float(cosines.count), cosines.map { String(format: "%.4f", $0) }.joined(separator: " ")))
    }
    unsetenv("CFACENET_INT8_FLOAT_LAYERS")
}
