/// Any Python object a torch checkpoint may hold, as the pickle VM rebuilds it. Tensors arrive
/// already materialised as float32 (`.tensor`); containers hold their elements in pickle order.
public indirect enum PickleValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer outside `Int`'s range (e.g. the legacy format's 80-bit magic number), as
    /// little-endian two's-complement bytes, exactly as pickle's LONG1/LONG4 store it.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    /// A dict or `collections.OrderedDict`, entries in insertion order.
    case dict([(PickleValue, PickleValue)])
    /// A `set` or `frozenset`, elements in pickle order.
    case set([PickleValue])
    case tensor(Tensor)
    /// A reference to a class or function that was not called, e.g. `torch.float32`.
    case global(module: String, name: String)
    /// A harmless object rebuilt from its constructor arguments, e.g. `torch.device("cpu")`.
    case object(type: String, arguments: [PickleValue])

    /// Structural equality, case by case.
    public static func == (lhs: PickleValue, rhs: PickleValue) -> Bool {
        switch (lhs, rhs) {
        case (.none, .none): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.bigInt(a), .bigInt(b)): return a == b
        case let (.float(a), .float(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.bytes(a), .bytes(b)): return a == b
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)), let (.set(a), .set(b)): return a == b
        case let (.dict(a), .dict(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.tensor(a), .tensor(b)): return a == b
        case let (.global(m1, n1), .global(m2, n2)): return m1 == m2 && n1 == n2
        case let (.object(t1, a1), .object(t2, a2)): return t1 == t2 && a1 == a2
        default: return false
        }
    }

    /// The value for string key `key` when this is a dict.
    public subscript(key: String) -> PickleValue? {
        guard case let .dict(entries) = self else { return nil }
        return entries.first { $0.0 == .string(key) }?.1
    }

    /// Elements of a list or tuple.
    public var elements: [PickleValue]? {
        switch self {
        case let .list(items), let .tuple(items): return items
        default: return nil
        }
    }

    /// The string, if this is one.
    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    /// The integer, if this is one.
    public var intValue: Int? { if case let .int(i) = self { return i } else { return nil } }
    /// The tensor, if this is one.
    public var tensorValue: Tensor? { if case let .tensor(t) = self { return t } else { return nil } }

    /// A short description of the kind of value, for error messages ("a list of 2 elements").
    public var kindDescription: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .bytes: return "bytes"
        case let .list(items): return "a list of \(items.count) element(s)"
        case let .tuple(items): return "a tuple of \(items.count) element(s)"
        case let .dict(entries): return "a dict of \(entries.count) entr\(entries.count == 1 ? "y" : "ies")"
        case let .set(items): return "a set of \(items.count) element(s)"
        case let .tensor(t): return "a tensor of shape \(t.shape)"
        case let .global(module, name): return "\(module).\(name)"
        case let .object(type, _): return "a \(type) object"
        }
    }
}
