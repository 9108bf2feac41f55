import CFaceNet

/// Hands a ``StateDict`` to a CFaceNet builder as a `cfn_tensor_lookup_fn`. The scalars are
/// copied into buffers that live for the duration of `body` (builders copy what they keep).
func withMTCNNTensorLookup<R>(_ dict: StateDict,
                              _ body: (cfn_tensor_lookup_fn, UnsafeMutableRawPointer) throws -> R) rethrows -> R {
    let table = MTCNNTensorTable(dict)
    defer { table.release() }
    let user = Unmanaged.passUnretained(table).toOpaque()
    return try withExtendedLifetime(table) {
        try body(mtcnnLookupTrampoline, user)
    }
}

private final class MTCNNTensorTable {
    var entries: [String: (shape: [Int], data: UnsafeMutableBufferPointer<Float>)] = [:]

    init(_ dict: StateDict) {
        for (name, tensor) in dict.tensors {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(tensor.scalars.count, 1))
            _ = buffer.initialize(from: tensor.scalars)
            entries[name] = (tensor.shape, buffer)
        }
    }

    func release() {
        for entry in entries.values { entry.data.deallocate() }
        entries = [:]
    }
}

private let mtcnnLookupTrampoline: cfn_tensor_lookup_fn = { user, name, out in
    guard let user, let name, let out else { return 0 }
    let table = Unmanaged<MTCNNTensorTable>.fromOpaque(user).takeUnretainedValue()
    guard let entry = table.entries[String(cString: name)], entry.shape.count <= Int(CFN_MAX_DIMS) else {
        return 0
    }
    out.pointee.data = UnsafePointer(entry.data.baseAddress)
    out.pointee.ndim = Int32(entry.shape.count)
    withUnsafeMutableBytes(of: &out.pointee.shape) { raw in
        let dims = raw.bindMemory(to: Int64.self)
        for (i, d) in entry.shape.enumerated() { dims[i] = Int64(d) }
    }
    return 1
}
