/// The Python globals a checkpoint may name. A pickle can reference any importable callable;
/// this reader recognises only what `torch.save` emits for tensors, parameters, storages and
/// ordered dicts, and rejects everything else by name and offset (so a hostile or exotic
/// checkpoint fails loudly instead of being half-understood).
enum TorchGlobals {
    static let callables: Set<String> = [
        "collections.OrderedDict", "builtins.dict", "__builtin__.dict",
        "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset",
        "_codecs.encode",
        "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2",
        "torch.device", "torch.Size",
    ]

    /// Classes that appear only as arguments (tensor types, dtypes, layouts).
    static let constants: Set<String> = [
        "torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.Parameter",
        "torch.float32", "torch.float", "torch.float64", "torch.double", "torch.float16", "torch.half",
        "torch.bfloat16", "torch.int64", "torch.long", "torch.int32", "torch.int", "torch.int16",
        "torch.int8", "torch.uint8", "torch.bool", "torch.strided",
    ]

    static func resolve(module: String, name: String, file: String, offset: Int) throws -> PickleNode {
        let qualified = "\(module).\(name)"
        if callables.contains(qualified) || constants.contains(qualified) {
            return .global(module: module, name: name)
        }
        // Typed storage classes: torch.FloatStorage, torch.cuda.FloatStorage, torch.UntypedStorage...
        if (module == "torch" || module == "torch.cuda" || module == "torch.storage"),
           ScalarType(torchStorageName: name) != nil {
            return .global(module: module, name: name)
        }
        throw WeightsError.unsupported(
            file: file, offset: offset,
            what: "pickle global \(qualified) (only tensors, state dicts and plain containers load; save model.state_dict() rather than the model)")
    }

    /// The element type of a storage class global, e.g. `torch.HalfStorage` → float16.
    static func storageType(_ node: PickleNode) -> ScalarType? {
        guard case let .global(_, name) = node else { return nil }
        return ScalarType(torchStorageName: name)
    }
}
