import Testing
import FaceRecognition

/// `StateDict.require`, which the network builders use to validate checkpoints.
@Suite("Weights: StateDict.require", .ownThreads)
struct WeightsRequireTests {
    let dict = StateDict(tensors: [
        "conv1.weight": Tensor(shape: [2, 1, 1, 1], scalars: [1, 2]),
        "bad": Tensor(shape: [3], scalars: [0, .nan, 1]),
    ])

    @Test("returns the tensor when name, shape and values are right")
    func ok() throws {
        #expect(try dict.require("conv1.weight", shape: [2, 1, 1, 1]).scalars == [1, 2])
        #expect(try dict.require("conv1.weight", count: 2).shape == [2, 1, 1, 1])
    }

    @Test("errors name the key")
    func errors() {
        let missing = #expect(throws: WeightsError.self) { try dict.require("conv2.weight", shape: [1]) }
        #expect(missing.map(String.init(describing:)) == "missing tensor 'conv2.weight'")
        let shape = #expect(throws: WeightsError.self) { try dict.require("conv1.weight", shape: [2, 1]) }
        #expect(shape.map(String.init(describing:)) == "tensor 'conv1.weight' has shape [2, 1, 1, 1], expected [2, 1]")
        let nonFinite = #expect(throws: WeightsError.self) { try dict.require("bad", shape: [3]) }
        #expect(nonFinite.map(String.init(describing:))?.hasPrefix("tensor 'bad' holds non-finite values") == true)
        let count = #expect(throws: WeightsError.self) { try dict.require("conv1.weight", count: 3) }
        #expect(count.map(String.init(describing:)) == "tensor 'conv1.weight' has 2 elements, expected 3")
    }
}
