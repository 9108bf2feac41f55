import Foundation

// The JSON form of the results. It is the form `facerec … --json` prints and the HTTP API
// returns (with their own fields, such as "image", around it):
//
//   FaceBox        [x1, y1, x2, y2]
//   FacePoint      [x, y]
//   DetectedFace   {"box": FaceBox, "prob": 0.9998, "landmarks": [FacePoint × 5], "orientation": 0}
//                  (orientation: 0, 90, 180 or 270, FaceOrientation; absent reads as 0)
//   FaceQuality    {"score": 0.98, "sharpness": 739.7, "brightness": 126.6, "size": 94.4,
//                   "yaw": -10.2, "roll": -2.2, "frontal": 0.98}  (pose fields null without
//                  landmarks; score is derived and recomputed on decoding)
//   Match          {"name": "Alice", "index": 3, "distance": 0.61}
//   RecognizedFace DetectedFace's fields, plus
//                  {"name": match's name or "Unknown", "distance": nearest distance or null,
//                   "match": Match or null, "candidates": [Match], "embedding": [512 floats]}
//                  ("embedding" is left out when the encoder's userInfo sets
//                  CodingUserInfoKey.omitsEmbeddings to true)
//   EmbeddedFace   DetectedFace's fields, plus {"embedding": [512 floats]}
//   Verification   {"verified": true, "distance": 0.83, "threshold": 1.1, "metric": "euclidean"}
//   DistanceThreshold {"value": 1.1, "metric": "euclidean"}
//   MatchMetric    "euclidean" | "cosine"
//
// Decoding reads what encoding writes; derived fields ("name" and "distance" of a recognized
// face, "verified") are checked by nothing and recomputed from the others.

extension CodingUserInfoKey {
    /// Set to `true` in a `JSONEncoder`'s `userInfo` to leave the 512 numbers of each
    /// ``RecognizedFace/embedding`` out of its JSON (a decoded face then has an empty embedding).
    public static let omitsEmbeddings = CodingUserInfoKey(rawValue: "facerec.omitsEmbeddings")!
}

extension FaceBox: Codable {
    /// `[x1, y1, x2, y2]`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(array)
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.singleValueContainer().decode([Float].self)
        guard values.count == 4 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a face box is [x1, y1, x2, y2], got \(values.count) numbers"))
        }
        self.init(x1: values[0], y1: values[1], x2: values[2], y2: values[3])
    }
}

extension FacePoint: Codable {
    /// `[x, y]`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode([x, y])
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.singleValueContainer().decode([Float].self)
        guard values.count == 2 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a landmark is [x, y], got \(values.count) numbers"))
        }
        self.init(x: values[0], y: values[1])
    }
}

/// The keys of the per-face JSON objects.
enum FaceCodingKeys: String, CodingKey {
    case box, prob, landmarks, orientation, name, distance, match, candidates, embedding
}

extension DetectedFace: Codable {
    /// `{"box": [x1, y1, x2, y2], "prob": p, "landmarks": [[x, y], …], "orientation": 0}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: FaceCodingKeys.self)
        try container.encode(box, forKey: .box)
        try container.encode(probability, forKey: .prob)
        try container.encode(landmarks, forKey: .landmarks)
        try container.encode(orientation, forKey: .orientation)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: FaceCodingKeys.self)
        self.init(box: try container.decode(FaceBox.self, forKey: .box),
                  probability: try container.decode(Float.self, forKey: .prob),
                  landmarks: try container.decodeIfPresent([FacePoint].self, forKey: .landmarks) ?? [],
                  orientation: try container.decodeIfPresent(FaceOrientation.self, forKey: .orientation) ?? .up)
    }
}

extension MatchMetric: Codable {}

extension Match: Codable {
    enum CodingKeys: String, CodingKey { case name, index, distance }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(index, forKey: .index)
        try container.encode(distance, forKey: .distance)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decode(String.self, forKey: .name),
                  index: try container.decode(Int.self, forKey: .index),
                  distance: try container.decode(Float.self, forKey: .distance))
    }
}

extension RecognizedFace: Codable {
    /// ``DetectedFace``'s fields, then `name` (the match's, or ``FaceRecognizer/unknownLabel``),
    /// `distance` (the nearest candidate's, or null), `match`, `candidates` and `embedding`.
    public func encode(to encoder: any Encoder) throws {
        try face.encode(to: encoder)
        var container = encoder.container(keyedBy: FaceCodingKeys.self)
        try container.encode(match?.name ?? FaceRecognizer.unknownLabel, forKey: .name)
        try container.encode(candidates.first?.distance, forKey: .distance)
        try container.encode(match, forKey: .match)
        try container.encode(candidates, forKey: .candidates)
        if encoder.userInfo[.omitsEmbeddings] as? Bool != true {
            try container.encode(embedding, forKey: .embedding)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: FaceCodingKeys.self)
        self.init(face: try DetectedFace(from: decoder),
                  embedding: try container.decodeIfPresent(Embedding.self, forKey: .embedding) ?? [],
                  match: try container.decodeIfPresent(Match.self, forKey: .match),
                  candidates: try container.decodeIfPresent([Match].self, forKey: .candidates) ?? [])
    }
}

extension EmbeddedFace: Codable {
    /// ``DetectedFace``'s fields, then `embedding`.
    public func encode(to encoder: any Encoder) throws {
        try face.encode(to: encoder)
        var container = encoder.container(keyedBy: FaceCodingKeys.self)
        try container.encode(embedding, forKey: .embedding)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: FaceCodingKeys.self)
        self.init(face: try DetectedFace(from: decoder), embedding: try container.decode(Embedding.self, forKey: .embedding))
    }
}

extension DistanceThreshold: Codable {
    enum CodingKeys: String, CodingKey { case value, metric }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(value, forKey: .value)
        try container.encode(metric, forKey: .metric)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try container.decode(Float.self, forKey: .value), metric: try container.decode(MatchMetric.self, forKey: .metric))
    }
}

extension Verification: Codable {
    enum CodingKeys: String, CodingKey { case verified, distance, threshold, metric }

    /// `{"verified": isMatch, "distance": …, "threshold": …, "metric": …}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(isMatch, forKey: .verified)
        try container.encode(distance, forKey: .distance)
        try container.encode(threshold, forKey: .threshold)
        try container.encode(metric, forKey: .metric)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(distance: try container.decode(Float.self, forKey: .distance),
                  threshold: try container.decode(Float.self, forKey: .threshold),
                  metric: try container.decode(MatchMetric.self, forKey: .metric))
    }
}

extension FaceQuality: Codable {
    enum CodingKeys: String, CodingKey { case score, sharpness, brightness, size, yaw, roll, frontal }

    /// `{"score", "sharpness", "brightness", "size", "yaw", "roll", "frontal"}`, flat, as the CLI
    /// prints it; the pose fields are null when there is no pose.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(score, forKey: .score)
        try container.encode(sharpness, forKey: .sharpness)
        try container.encode(brightness, forKey: .brightness)
        try container.encode(size, forKey: .size)
        try container.encode(pose?.yaw, forKey: .yaw)
        try container.encode(pose?.roll, forKey: .roll)
        try container.encode(pose?.frontal, forKey: .frontal)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let yaw = try container.decodeIfPresent(Float.self, forKey: .yaw)
        let roll = try container.decodeIfPresent(Float.self, forKey: .roll)
        let frontal = try container.decodeIfPresent(Float.self, forKey: .frontal)
        var pose: FacePose?
        if let yaw, let roll, let frontal { pose = FacePose(yaw: yaw, roll: roll, frontal: frontal) }
        self.init(sharpness: try container.decode(Float.self, forKey: .sharpness),
                  brightness: try container.decode(Float.self, forKey: .brightness),
                  size: try container.decode(Float.self, forKey: .size),
                  pose: pose)
    }
}
