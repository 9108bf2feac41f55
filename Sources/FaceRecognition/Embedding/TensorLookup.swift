import CFaceNet
import Foundation

/// Tensors held at stable addresses so the C model builders can read them by name through a
/// `cfn_tensor_lookup_fn`. The builders copy (and fold) what they keep, so a `PinnedTensors` only
/// has to outlive the builder call.
final class PinnedTensors {
    private struct Entry {
        let storage: UnsafeMutableBufferPointer<Float>
        let shape: [Int64]
    }
    private var entries: [String: Entry] = [:]

    /// Copies every tensor of `dict`.
    init(copying dict: StateDict) {
        for (name, tensor) in dict.tensors { pin(name, tensor) }
    }

    /// Moves the tensors out of `dict` one at a time, releasing each Swift array as soon as it is
    /// copied, so a large checkpoint is never held twice (when the caller holds no other copy).
    init(consuming dict: inout StateDict) {
        for name in dict.tensors.keys.sorted() {
            guard let tensor = dict.tensors.removeValue(forKey: name) else { continue }
            pin(name, tensor)
        }
    }

    deinit {
        for entry in entries.values { entry.storage.deallocate() }
    }

    private func pin(_ name: String, _ tensor: Tensor) {
        let storage = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(tensor.count, 1))
        _ = storage.initialize(from: tensor.scalars)
        entries[name] = Entry(storage: storage, shape: tensor.shape.map(Int64.init))
    }

    /// Calls `body` with a lookup function and its user pointer, valid during the call only.
    func withLookup<R>(_ body: (cfn_tensor_lookup_fn, UnsafeMutableRawPointer) throws -> R) rethrows -> R {
        let lookup: cfn_tensor_lookup_fn = { user, name, out in
            guard let user, let name, let out else { return 0 }
            let pinned = Unmanaged<PinnedTensors>.fromOpaque(user).takeUnretainedValue()
            guard let entry = pinned.entries[String(cString: name)] else { return 0 }
            guard entry.shape.count <= Int(CFN_MAX_DIMS) else { return 0 }
            out.pointee.data = UnsafePointer(entry.storage.baseAddress)
            out.pointee.ndim = Int32(entry.shape.count)
            withUnsafeMutableBytes(of: &out.pointee.shape) { raw in
                let dims = raw.bindMemory(to: Int64.self)
                for (i, dim) in entry.shape.enumerated() { dims[i] = dim }
            }
            return 1
        }
        return try withExtendedLifetime(self) {
            try body(lookup, Unmanaged.passUnretained(self).toOpaque())
        }
    }
}

/// Passes the tensors of `dict` to a C model builder (`cfn_*_create(lookup, user, ...)`).
/// The pointers are valid only inside `body`.
func withTensorLookup<R>(_ dict: StateDict,
                         _ body: (cfn_tensor_lookup_fn, UnsafeMutableRawPointer) throws -> R) rethrows -> R {
    try PinnedTensors(copying: dict).withLookup(body)
}
