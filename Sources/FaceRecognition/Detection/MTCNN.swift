import Foundation

/// MTCNN face detection, identical to facenet-pytorch's `MTCNN` (P-Net over an image pyramid,
/// R-Net and O-Net on area-resampled crops, torchvision/numpy NMS, face selection and
/// `extract_face`), with the networks running in CFaceNet.
///
/// A value is cheap to copy and safe to share between threads: the models are read-only and
/// each call borrows a workspace from an internal pool. A detection runs on up to
/// ``MTCNNOptions/threads`` threads taken from ``budget``.
public struct MTCNN: Sendable {
    /// The detection parameters (facenet-pytorch's `MTCNN(...)` arguments).
    public var options: MTCNNOptions
    /// The threads detections draw from.
    public let budget: ComputeBudget
    private let networks: MTCNNNetworks
    private let contexts: InferenceContextPool

    /// The file names expected in a weights directory (facenet-pytorch's `data/` folder).
    public static let weightFiles = (pnet: "pnet.pt", rnet: "rnet.pt", onet: "onet.pt")

    /// Builds the detector from the three facenet-pytorch state dicts.
    public init(pnet: StateDict, rnet: StateDict, onet: StateDict, options: MTCNNOptions = .init(),
                budget: ComputeBudget = .shared) throws(MTCNNError) {
        try options.validate()
        self.options = options
        self.budget = budget
        networks = try MTCNNNetworks(pnet: pnet, rnet: rnet, onet: onet)
        contexts = InferenceContextPool(budget: budget)
    }

    /// Loads `pnet.pt`, `rnet.pt` and `onet.pt` from `directory`.
    public init(weightsDirectory directory: URL, options: MTCNNOptions = .init(),
                budget: ComputeBudget = .shared) throws(MTCNNError) {
        func load(_ name: String) throws(MTCNNError) -> StateDict {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { throw .weightsNotFound(file: url.path) }
            do {
                return try WeightsLoader.load(contentsOf: url)
            } catch {
                throw .weightsUnreadable(file: url.path, reason: "\(error)")
            }
        }
        try self.init(pnet: load(Self.weightFiles.pnet), rnet: load(Self.weightFiles.rnet),
                      onet: load(Self.weightFiles.onet), options: options, budget: budget)
    }

    /// Loads the weights from the first folder of `lookup`'s search path that holds all three
    /// files (``WeightsLookup/mtcnnDirectory(explicit:)``): `FACEREC_MTCNN_WEIGHTS`,
    /// `./weights`, then `$XDG_DATA_HOME/facerec/weights`.
    /// - Throws: ``MTCNNError/weightsNotFoundInSearchPath(searched:)`` listing the folders tried.
    public init(options: MTCNNOptions = .init(), lookup: WeightsLookup = WeightsLookup(),
                budget: ComputeBudget = .shared) throws(MTCNNError) {
        try self.init(weightsDirectory: lookup.mtcnnDirectory(), options: options, budget: budget)
    }

    /// The first folder of the default search path that holds the three files, else the first
    /// folder of that path (`FACEREC_MTCNN_WEIGHTS` when set, else `./weights`).
    public static var defaultWeightsDirectory: URL {
        let lookup = WeightsLookup()
        return (try? lookup.mtcnnDirectory()) ?? lookup.mtcnnSearchPath()[0]
    }

    /// Every face, in `MTCNN.detect` order: largest first when `selectLargest`, otherwise most
    /// probable first. With `tryRotations`, those of the first turn of the image that has any.
    public func detectAll(_ image: RGBImage) throws(MTCNNError) -> [DetectedFace] {
        try upright(image, find: detectAllAsGiven).original
    }

    /// The faces `MTCNN.forward` returns: all of them (`keepAll`) or the selected one; empty
    /// when there is no face. With `tryRotations`, those of the first turn of the image that has any.
    public func detect(_ image: RGBImage) throws(MTCNNError) -> [DetectedFace] {
        try upright(image, find: detectAsGiven).original
    }

    /// `detect` followed by `extract_face` (and `fixed_image_standardization` when
    /// `postProcess`) for each face; with `tryRotations` the crops are taken from the turned
    /// image, upright, and the faces reported in the image's own coordinates.
    public func extractFaces(_ image: RGBImage) throws(MTCNNError) -> [FaceCrop] {
        let found = try upright(image, find: detectAsGiven)
        return zip(found.turned, found.original).map { turned, original in
            var crop = extractFace(found.image, face: turned)
            crop.face = original
            return crop
        }
    }

    private func detectAllAsGiven(_ image: RGBImage) throws(MTCNNError) -> [DetectedFace] {
        guard image.width > 0, image.height > 0 else { throw .emptyImage(width: image.width, height: image.height) }
        let pipeline = MTCNNPipeline(networks: networks, options: options, gauge: budget.gauge)
        let result = budget.withThreads(upTo: options.effectiveThreads) { granted in
            budget.counting {
                withContexts(granted, []) { handles in
                    Result { () throws(MTCNNError) in try pipeline.run(image, contexts: handles) }
                }
            }
        }
        guard let result else {
            throw .inference(stage: "context", reason: "out of memory creating an inference context")
        }
        let faces = try result.get()
        return options.selectLargest ? FaceSelection.largestFirst(faces) : faces
    }

    private func detectAsGiven(_ image: RGBImage) throws(MTCNNError) -> [DetectedFace] {
        let faces = try detectAllAsGiven(image)
        if options.keepAll { return faces }
        return FaceSelection.select(faces, method: options.effectiveSelectionMethod,
                                    imageWidth: image.width, imageHeight: image.height).map { [$0] } ?? []
    }

    /// `find` on the image, then (with `tryRotations`, when nothing is found) on it turned 90°,
    /// 180° and 270° clockwise, keeping the turn whose most probable face is the most probable
    /// (MTCNN also finds faces, less surely, in a copy turned the wrong way, e.g. upside down):
    /// the image searched, its faces, and the faces in the coordinates of the image as given.
    private func upright(_ image: RGBImage, find: (RGBImage) throws(MTCNNError) -> [DetectedFace])
        throws(MTCNNError) -> (image: RGBImage, turned: [DetectedFace], original: [DetectedFace]) {
        let faces = try find(image)
        guard options.tryRotations, faces.isEmpty else { return (image, faces, faces) }
        var best: (image: RGBImage, orientation: FaceOrientation, faces: [DetectedFace], probability: Float)?
        for orientation in FaceOrientation.allCases.dropFirst() {
            let turned = image.oriented(orientation.exifOrientation)
            let found = try find(turned)
            guard let probability = found.map(\.probability).max() else { continue }
            if probability > best?.probability ?? -.infinity { best = (turned, orientation, found, probability) }
        }
        guard let best else { return (image, [], []) }
        return (best.image, best.faces,
                best.faces.map { best.orientation.original($0, width: image.width, height: image.height) })
    }

    /// Borrows `count` contexts from the pool for `body` (nil when one cannot be allocated).
    private func withContexts<R>(_ count: Int, _ held: [OpaquePointer], _ body: ([OpaquePointer]) -> R?) -> R? {
        if held.count == count { return body(held) }
        return contexts.withContext { ctx in withContexts(count, held + [ctx.handle], body) }
    }

    /// The crop of one face with this detector's size and margin.
    public func extractFace(_ image: RGBImage, face: DetectedFace) -> FaceCrop {
        let crop = FaceExtraction.crop(image, box: face.box, size: options.imageSize, margin: options.margin)
        let tensor = options.postProcess ? FaceExtraction.standardized(crop) : FaceExtraction.rawTensor(crop)
        return FaceCrop(face: face, image: crop, tensor: tensor)
    }
}
