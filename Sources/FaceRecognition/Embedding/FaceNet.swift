import CFaceNet
import Foundation

/// A 512-dimensional, L2-normalised FaceNet embedding.
public typealias Embedding = [Float]

/// FaceNet (Inception-ResNet-v1, as facenet-pytorch's `InceptionResnetV1(classify=False)`):
/// face crops in, unit-length 512-d embeddings out.
///
/// Built once from a facenet-pytorch state dict (the vggface2 or casia-webface checkpoints, or
/// our safetensors conversion of them); immutable afterwards. One instance may be shared by any
/// number of concurrent callers: each call takes up to ``ComputeBudget/threadsPerPass`` threads
/// from ``budget`` and borrows a workspace from an internal pool for each forward pass it runs.
///
/// ```swift
/// let facenet = try FaceNet(contentsOf: URL(fileURLWithPath: "weights/20180402-114759-vggface2.pt"))
/// let embeddings = try facenet.embed([crop])   // crop: 160×160 (or any ≥ 80×80) RGBImage
/// ```
public final class FaceNet: Sendable {
    /// Length of every embedding.
    public static let embeddingSize = Int(CFN_FACENET_EMBEDDING_SIZE)
    /// Smallest accepted input height and width.
    public static let minimumInputSize = Int(CFN_FACENET_MIN_INPUT)

    let model: Model
    /// How the convolutions compute: ``FaceNetPrecision/float32`` (the default) or the int8
    /// approximation.
    public let precision: FaceNetPrecision.Kind
    /// The threads forward passes draw from.
    public let budget: ComputeBudget
    private let contexts: InferenceContextPool

    /// The C model (a `cfn_facenet`, or a calibrated `cfn_facenet_int8` when `int8`); destroyed
    /// with the last reference. Read-only after creation, so shareable.
    final class Model: @unchecked Sendable {
        let handle: OpaquePointer
        let int8: Bool
        init(_ handle: OpaquePointer, int8: Bool = false) {
            self.handle = handle
            self.int8 = int8
        }
        deinit { int8 ? cfn_facenet_int8_destroy(handle) : cfn_facenet_destroy(handle) }
    }

    /// Builds the network from a state dict with facenet-pytorch's key names
    /// (`conv2d_1a.conv.weight`, `repeat_1.0.branch0.conv.weight`, ..., `last_bn.running_var`).
    /// `logits.*` and `num_batches_tracked` entries are ignored.
    /// - Parameters:
    ///   - stateDict: the tensors by name.
    ///   - precision: ``FaceNetPrecision/float32`` (the default, exact to facenet-pytorch) or
    ///     ``FaceNetPrecision/int8(calibration:)``, an approximation.
    ///   - budget: the compute budget its passes draw threads from.
    /// - Throws: `InferenceError.invalidWeights` naming the missing, misshapen or non-finite tensor.
    public convenience init(stateDict: StateDict, precision: FaceNetPrecision = .float32,
                            budget: ComputeBudget = .shared) throws(InferenceError) {
        var copy = stateDict
        try self.init(consuming: &copy, precision: precision, budget: budget)
    }

    /// Loads a `.pt` (zip or legacy) or `.safetensors` checkpoint and builds the network.
    /// - Throws: ``WeightsError`` when the file cannot be read or parsed, ``InferenceError``
    ///   when its tensors do not make a FaceNet.
    public convenience init(contentsOf url: URL, precision: FaceNetPrecision = .float32,
                            budget: ComputeBudget = .shared) throws {
        var dict = try WeightsLoader.load(contentsOf: url)
        try self.init(consuming: &dict, precision: precision, budget: budget)
    }

    /// Loads the checkpoint ``WeightsLookup/faceNetFile(explicit:)`` finds:
    /// `FACEREC_FACENET_WEIGHTS`, then ``WeightsLookup/faceNetFileName`` in `./weights` and in
    /// `$XDG_DATA_HOME/facerec/weights`.
    /// - Throws: ``WeightsError/notFound(what:searched:)`` listing the paths tried, or what
    ///   ``init(contentsOf:precision:budget:)`` throws.
    public convenience init(lookup: WeightsLookup = WeightsLookup(), budget: ComputeBudget = .shared) throws {
        try self.init(contentsOf: lookup.faceNetFile(), budget: budget)
    }

    /// Builds from `dict`, releasing its tensors as they are copied (keeps peak memory at about
    /// one copy of the weights when the caller holds no other reference to them).
    init(consuming dict: inout StateDict, precision: FaceNetPrecision = .float32,
         budget: ComputeBudget = .shared) throws(InferenceError) {
        if case .int8(let crops) = precision { try FaceNetPrecision.checkCalibration(crops) }
        let pinned = PinnedTensors(consuming: &dict)
        var message = [CChar](repeating: 0, count: 512)
        var handle: OpaquePointer?
        let status = pinned.withLookup { lookup, user in
            switch precision {
            case .float32: cfn_facenet_create(lookup, user, &handle, &message, message.count)
            case .int8: cfn_facenet_int8_create(lookup, user, &handle, &message, message.count)
            }
        }
        guard status == CFN_OK, let handle else {
            throw InferenceError.fromBuild(status, network: "FaceNet",
                                           message: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        model = Model(handle, int8: precision.kind == .int8)
        self.precision = precision.kind
        self.budget = budget
        contexts = InferenceContextPool(budget: budget)
        if case .int8(let crops) = precision { try calibrate(on: crops) }
    }

    /// Sets the int8 network's activation scales from `crops` in one pass (before the
    /// instance is shared: nothing else can reach it yet).
    private func calibrate(on crops: [RGBImage]) throws(InferenceError) {
        var batch = [Float]()
        for crop in crops { FaceNet.appendStandardized(crop, to: &batch) }
        let height = crops[0].height, width = crops[0].width
        let result: Result<Void, InferenceError> = budget.withThreads(upTo: budget.threadsPerPass) { granted in
            contexts.withContext { context in
                cfn_context_set_threads(context.handle, Int32(granted))
                let status = budget.counting {
                    cfn_facenet_int8_calibrate(model.handle, context.handle, batch, Int32(crops.count),
                                               Int32(height), Int32(width))
                }
                return status == CFN_OK ? .success(())
                    : .failure(.fromForward(status, network: "FaceNet int8 calibration", message: context.lastError))
            } ?? .failure(.outOfMemory("cannot allocate an inference context"))
        }
        try result.get()
    }

    /// Bytes of (folded, packed) weights the network holds.
    public var weightBytes: Int {
        model.int8 ? cfn_facenet_int8_weight_bytes(model.handle) : cfn_facenet_weight_bytes(model.handle)
    }

    /// Embeds `count` standardised images given as one NCHW float buffer
    /// (`count × 3 × height × width`, values as `fixed_image_standardization` makes them).
    ///
    /// The call takes up to ``ComputeBudget/threadsPerPass`` threads from ``budget`` and, by
    /// default (`concurrentPasses` nil), splits the batch into as many passes run side by side
    /// as the images and its threads share evenly, each pass on its own workspace with an equal
    /// share of the threads: batch 8 on 2 threads runs as 2 passes of 4 with one thread each,
    /// batch 6 on 4 threads as 2 passes of 3 with 2 threads each, batch 3 on 2 threads as one
    /// pass on both (side-by-side passes are faster when the split is even; see ``PassLayout``).
    /// An image's embedding does not depend on the split beyond float rounding, as it does not
    /// depend on the batch it comes in.
    ///
    /// A number for `concurrentPasses` asks for that many passes (at most `count`), drawing up
    /// to `concurrentPasses × threadsPerPass` threads from the budget and sharing those it
    /// grants between them (fewer passes when fewer threads are free): for callers that set
    /// ``ComputeBudget/threadsPerPass`` to 1 and want one call to use several cores anyway.
    /// Callers that already run one call per core should set ``ComputeBudget/threadsPerPass``
    /// to 1 and leave this nil.
    public func embed(standardized images: [Float], count: Int, height: Int, width: Int,
                      concurrentPasses: Int? = nil) throws(InferenceError) -> [Embedding] {
        guard count >= 1, height >= 1, width >= 1, images.count == count * 3 * height * width else {
            throw .invalidInput(network: "FaceNet",
                                message: "\(images.count) values do not hold \(count) images of 3×\(height)×\(width)")
        }
        var output = [Float](repeating: 0, count: count * Self.embeddingSize)
        let wanted = PassLayout.threadsWanted(count: count, requested: concurrentPasses,
                                              threadsPerPass: budget.threadsPerPass)
        let failures = budget.withThreads(upTo: wanted) { granted in
            // A pool holds one context per budget thread, so every pass gets its own.
            let layout = PassLayout(count: count, granted: min(granted, contexts.capacity),
                                    requested: concurrentPasses)
            return contexts.withContexts(layout.passes) { borrowed in
                images.withUnsafeBufferPointer { input in
                    output.withUnsafeMutableBufferPointer { out in
                        parallelFailures(layout.passes) { pass in
                            let range = layout.images(ofPass: pass, count: count), context = borrowed[pass]
                            cfn_context_set_threads(context.handle, Int32(layout.threadsPerPass))
                            let result = forward(input.baseAddress! + range.lowerBound * 3 * height * width,
                                                 count: range.count, height: height, width: width,
                                                 into: out.baseAddress! + range.lowerBound * Self.embeddingSize,
                                                 on: context)
                            if case .failure(let error) = result { return error }
                            return nil
                        }
                    }
                }
            } ?? [InferenceError.outOfMemory("cannot allocate an inference context")]
        }
        if let failure = failures.first { throw failure }
        return (0..<count).map { i in Array(output[i * Self.embeddingSize..<(i + 1) * Self.embeddingSize]) }
    }

    /// Sizes the workspaces of `concurrentPasses` forward passes for batches of up to
    /// `batchSize` images of `height × width`, by running each once on a zero batch. A
    /// workspace grows to the largest shape it has seen and is then reused, so a service that
    /// prepares for its largest batch at start-up keeps a flat memory footprint from the start
    /// instead of stepping up the first time a full batch arrives. nil (the default) prepares
    /// for ``embed(standardized:count:height:width:concurrentPasses:)``'s automatic layout:
    /// up to ``ComputeBudget/threadsPerPass`` passes at once, each workspace sized for the
    /// whole batch (a workspace may serve any pass, so each is sized for the largest).
    public func prepare(batchSize: Int, height: Int, width: Int, concurrentPasses: Int? = nil) throws(InferenceError) {
        let concurrentPasses = concurrentPasses ?? budget.threadsPerPass
        guard batchSize >= 1, concurrentPasses >= 1, height >= Self.minimumInputSize, width >= Self.minimumInputSize else {
            throw .invalidInput(network: "FaceNet", message: "cannot prepare \(concurrentPasses) passes of \(batchSize) × 3×\(height)×\(width)")
        }
        let zeros = [Float](repeating: 0, count: batchSize * 3 * height * width)
        var output = [Float](repeating: 0, count: batchSize * Self.embeddingSize)
        var result: Result<Void, InferenceError> = .success(())
        let allocated = budget.withThreads(upTo: budget.threadsPerPass) { granted in
            contexts.withEach(of: concurrentPasses) { context in
                guard case .success = result else { return }
                cfn_context_set_threads(context.handle, Int32(granted))
                result = forward(zeros, count: batchSize, height: height, width: width, into: &output, on: context)
            }
        }
        try result.get()
        if !allocated { throw .outOfMemory("cannot allocate an inference context") }
    }

    /// One forward pass of `count` images into `output` on `context`.
    private func forward(_ images: [Float], count: Int, height: Int, width: Int, into output: inout [Float],
                         on context: InferenceContext) -> Result<Void, InferenceError> {
        images.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                forward(input.baseAddress!, count: count, height: height, width: width, into: out.baseAddress!, on: context)
            }
        }
    }

    /// The same on raw buffers: `count × 3 × height × width` floats in, `count × 512` out.
    private func forward(_ images: UnsafePointer<Float>, count: Int, height: Int, width: Int,
                         into output: UnsafeMutablePointer<Float>, on context: InferenceContext) -> Result<Void, InferenceError> {
        let status = budget.counting {
            model.int8
                ? cfn_facenet_int8_embed(model.handle, context.handle, images, Int32(count), Int32(height), Int32(width), output)
                : cfn_facenet_embed(model.handle, context.handle, images, Int32(count), Int32(height), Int32(width), output)
        }
        return status == CFN_OK ? .success(()) : .failure(.fromForward(status, network: "FaceNet", message: context.lastError))
    }

    /// Workspace bytes held by this network's idle inference contexts (one per concurrent
    /// caller seen; each as large as the largest batch it has run).
    public var workspaceBytes: Int { contexts.idleWorkspaceBytes }

    /// Embeds face crops, all of one size (at least 80×80; 160×160 is FaceNet's native size),
    /// standardising them as facenet-pytorch's `fixed_image_standardization`;
    /// `concurrentPasses` as in ``embed(standardized:count:height:width:concurrentPasses:)``.
    public func embed(_ crops: [RGBImage], concurrentPasses: Int? = nil) throws(InferenceError) -> [Embedding] {
        guard let first = crops.first else { return [] }
        guard crops.allSatisfy({ $0.width == first.width && $0.height == first.height }) else {
            throw .invalidInput(network: "FaceNet", message: "crops in one batch must share one size")
        }
        var batch = [Float]()
        batch.reserveCapacity(crops.count * 3 * first.width * first.height)
        for crop in crops { FaceNet.appendStandardized(crop, to: &batch) }
        return try embed(standardized: batch, count: crops.count, height: first.height, width: first.width,
                         concurrentPasses: concurrentPasses)
    }

    /// Appends `image` as planar CHW floats, (x − 127.5) / 128 (facenet-pytorch's
    /// `fixed_image_standardization`).
    public static func appendStandardized(_ image: RGBImage, to buffer: inout [Float]) {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: 3 * image.width * image.height))
        buffer.withUnsafeMutableBufferPointer { out in
            if let out = out.baseAddress {
                FaceExtraction.writePlanes(image, offset: FaceExtraction.standardOffset,
                                           scale: FaceExtraction.standardScale, to: out + start)
            }
        }
    }
}
