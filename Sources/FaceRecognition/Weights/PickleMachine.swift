import Foundation

/// A storage a tensor points into, as named by a checkpoint's persistent id. The bytes are found
/// later (zip entry `data/<key>`, or the legacy file's storage section), so tensors stay lazy
/// until the whole pickle has been read.
struct StorageRef: Sendable, Equatable {
    var key: String
    var type: ScalarType
    /// Element offset of a legacy storage view into its root storage (0 otherwise).
    var viewOffset: Int = 0
    /// Elements the checkpoint declares for this storage (or view).
    var declaredCount: Int
}

/// `torch._utils._rebuild_tensor_v2` arguments, kept until storages are available.
struct LazyTensor: Sendable, Equatable {
    var storage: StorageRef
    var offset: Int
    var shape: [Int]
    var stride: [Int]
}

/// A value on the VM's stack or in its memo. Mutable containers (list, dict, set) live in the
/// machine's heap and are referenced by index, so APPENDS/SETITEMS after MEMOIZE are seen by every
/// reference, exactly as Python's shared objects are.
indirect enum PickleNode {
    case leaf(PickleValue)          // scalars and strings only
    case tuple([PickleNode], depth: Int)
    case ref(Int)
    case global(module: String, name: String)
    case storage(StorageRef)
    case tensor(LazyTensor)
    case object(type: String, arguments: [PickleNode], depth: Int)

    /// Nesting depth of Swift values (heap references count as 1), bounded so that neither
    /// conversion nor deallocation can recurse deeply on hostile input.
    var depth: Int {
        switch self {
        case let .tuple(_, depth), let .object(_, _, depth): return depth
        default: return 1
        }
    }
}

enum HeapObject {
    case list([PickleNode])
    case dict([(PickleNode, PickleNode)])
    case set([PickleNode])
}

/// A pickle virtual machine for the subset of protocols 2–5 that `torch.save` writes: containers,
/// scalars, strings, memo, persistent ids and a fixed allow-list of globals. Anything else (an
/// unknown opcode or global, a stack underflow, a missing memo entry) throws a `WeightsError`
/// naming the byte offset; the machine never executes arbitrary callables.
struct PickleMachine {
    /// Resolves a persistent id (the tuple `torch.save` writes for each storage).
    typealias PersistentLoad = (_ pid: PickleNode, _ offset: Int, _ machine: PickleMachine) throws -> PickleNode

    static let maxDepth = 100
    /// Upper bound on values produced when converting to `PickleValue`, against exponential
    /// blow-up through shared references.
    static let maxConvertedNodes = 50_000_000

    private(set) var reader: ByteReader
    private var stack: [PickleNode] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleNode] = [:]
    private(set) var heap: [HeapObject] = []
    private let persistentLoad: PersistentLoad?
    /// Offset of the opcode being executed, for errors.
    private var opcodeOffset = 0

    var file: String { reader.file }

    init(reader: ByteReader, persistentLoad: PersistentLoad? = nil) {
        self.reader = reader
        self.persistentLoad = persistentLoad
    }

    private func malformed(_ reason: String) -> WeightsError {
        .malformed(file: file, offset: opcodeOffset, reason: reason)
    }

    // MARK: stack

    private mutating func push(_ node: PickleNode) { stack.append(node) }

    private mutating func pop(_ what: String) throws -> PickleNode {
        guard stack.count > (marks.last ?? 0), let top = stack.popLast() else {
            throw malformed("stack underflow popping \(what)")
        }
        return top
    }

    private func top(_ what: String) throws -> PickleNode {
        guard stack.count > (marks.last ?? 0), let top = stack.last else {
            throw malformed("stack underflow reading \(what)")
        }
        return top
    }

    private mutating func popMark(_ what: String) throws -> [PickleNode] {
        guard let mark = marks.popLast() else { throw malformed("\(what) without a MARK") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func makeTuple(_ items: [PickleNode]) throws -> PickleNode {
        let depth = 1 + (items.map(\.depth).max() ?? 0)
        guard depth <= Self.maxDepth else { throw malformed("containers nested deeper than \(Self.maxDepth)") }
        return .tuple(items, depth: depth)
    }

    private mutating func allocate(_ object: HeapObject) -> PickleNode {
        heap.append(object)
        return .ref(heap.count - 1)
    }

    private mutating func memoize(_ index: Int, _ node: PickleNode) throws {
        guard index >= 0 else { throw malformed("negative memo index \(index)") }
        memo[index] = node
    }

    private func recall(_ index: Int) throws -> PickleNode {
        guard let node = memo[index] else { throw malformed("memo entry \(index) is not defined") }
        return node
    }

    private func decodeString(_ bytes: ArraySlice<UInt8>, _ what: String) throws -> String {
        guard let string = String(bytes: bytes, encoding: .utf8) else {
            throw malformed("\(what) is not valid UTF-8")
        }
        return string
    }

    // MARK: run

    /// Executes opcodes until STOP and returns the value on top of the stack. Afterwards
    /// `reader.offset` is just past the STOP opcode (legacy files put more pickles there).
    mutating func run() throws -> PickleNode {
        while true {
            opcodeOffset = reader.offset
            let opcode = try reader.u8("pickle opcode")
            switch opcode {
            case 0x80: // PROTO
                let version = try reader.u8("PROTO version")
                guard version <= 5 else { throw malformed("pickle protocol \(version) is newer than 5") }
            case 0x95: // FRAME: an 8-byte length; framing does not change the opcode stream.
                _ = try reader.u64("FRAME length")
            case 0x2E: // STOP
                let result = try pop("STOP result")
                return result
            case 0x28: // MARK
                marks.append(stack.count)
            case 0x30: // POP
                _ = try pop("POP")
            case 0x31: // POP_MARK
                _ = try popMark("POP_MARK")
            case 0x32: // DUP
                push(try top("DUP"))
            case 0x4E: push(.leaf(.none))           // NONE
            case 0x88: push(.leaf(.bool(true)))     // NEWTRUE
            case 0x89: push(.leaf(.bool(false)))    // NEWFALSE
            case 0x4A: push(.leaf(.int(try reader.i32("BININT"))))  // BININT
            case 0x4B: push(.leaf(.int(Int(try reader.u8("BININT1")))))
            case 0x4D: push(.leaf(.int(try reader.u16("BININT2"))))
            case 0x8A: // LONG1
                let length = Int(try reader.u8("LONG1 length"))
                push(.leaf(Self.integer(fromLittleEndian: try reader.take(length, "LONG1 digits"))))
            case 0x8B: // LONG4
                let length = try reader.i32("LONG4 length")
                guard length >= 0 else { throw malformed("LONG4 with negative length \(length)") }
                push(.leaf(Self.integer(fromLittleEndian: try reader.take(length, "LONG4 digits"))))
            case 0x47: // BINFLOAT
                push(.leaf(.float(try reader.f64BE("BINFLOAT"))))
            case 0x58: // BINUNICODE
                let length = try reader.u32("BINUNICODE length")
                push(.leaf(.string(try decodeString(try reader.take(length, "BINUNICODE text"), "BINUNICODE"))))
            case 0x8C: // SHORT_BINUNICODE
                let length = Int(try reader.u8("SHORT_BINUNICODE length"))
                push(.leaf(.string(try decodeString(try reader.take(length, "SHORT_BINUNICODE text"), "SHORT_BINUNICODE"))))
            case 0x8D: // BINUNICODE8
                guard let length = Checked.int(try reader.u64("BINUNICODE8 length")) else {
                    throw malformed("BINUNICODE8 length out of range")
                }
                push(.leaf(.string(try decodeString(try reader.take(length, "BINUNICODE8 text"), "BINUNICODE8"))))
            case 0x55, 0x54: // SHORT_BINSTRING, BINSTRING (Python 2 str): UTF-8, else Latin-1.
                let length = opcode == 0x55 ? Int(try reader.u8("SHORT_BINSTRING length"))
                                            : try reader.i32("BINSTRING length")
                let raw = try reader.take(length, "BINSTRING text")
                push(.leaf(.string(String(bytes: raw, encoding: .utf8)
                                   ?? String(raw.map { Character(Unicode.Scalar($0)) }))))
            case 0x43: // SHORT_BINBYTES
                let length = Int(try reader.u8("SHORT_BINBYTES length"))
                push(.leaf(.bytes(Array(try reader.take(length, "SHORT_BINBYTES data")))))
            case 0x42: // BINBYTES
                let length = try reader.u32("BINBYTES length")
                push(.leaf(.bytes(Array(try reader.take(length, "BINBYTES data")))))
            case 0x8E, 0x96: // BINBYTES8, BYTEARRAY8
                guard let length = Checked.int(try reader.u64("BINBYTES8 length")) else {
                    throw malformed("BINBYTES8 length out of range")
                }
                push(.leaf(.bytes(Array(try reader.take(length, "BINBYTES8 data")))))
            case 0x7D: push(allocate(.dict([])))   // EMPTY_DICT
            case 0x5D: push(allocate(.list([])))   // EMPTY_LIST
            case 0x8F: push(allocate(.set([])))    // EMPTY_SET
            case 0x29: push(try makeTuple([]))     // EMPTY_TUPLE
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let count = Int(opcode - 0x84)
                var items: [PickleNode] = []
                for _ in 0..<count { items.append(try pop("TUPLE\(count) element")) }
                push(try makeTuple(items.reversed()))
            case 0x74: push(try makeTuple(try popMark("TUPLE")))   // TUPLE
            case 0x6C: push(allocate(.list(try popMark("LIST"))))  // LIST
            case 0x91: push(allocate(.set(try popMark("FROZENSET"))))  // FROZENSET
            case 0x64: // DICT
                push(allocate(.dict(try pairs(try popMark("DICT")))))
            case 0x61: // APPEND
                let item = try pop("APPEND item")
                try append([item], to: try top("APPEND target"))
            case 0x65: // APPENDS
                let items = try popMark("APPENDS")
                try append(items, to: try top("APPENDS target"))
            case 0x90: // ADDITEMS
                let items = try popMark("ADDITEMS")
                try append(items, to: try top("ADDITEMS target"))
            case 0x73: // SETITEM
                let value = try pop("SETITEM value")
                let key = try pop("SETITEM key")
                try setItems([(key, value)], in: try top("SETITEM target"))
            case 0x75: // SETITEMS
                let items = try pairs(try popMark("SETITEMS"))
                try setItems(items, in: try top("SETITEMS target"))
            case 0x71: try memoize(Int(try reader.u8("BINPUT index")), try top("BINPUT"))
            case 0x72: try memoize(try reader.u32("LONG_BINPUT index"), try top("LONG_BINPUT"))
            case 0x94: try memoize(memo.count, try top("MEMOIZE"))
            case 0x70: try memoize(try decimal(try reader.line("PUT index")), try top("PUT"))
            case 0x68: push(try recall(Int(try reader.u8("BINGET index"))))
            case 0x6A: push(try recall(try reader.u32("LONG_BINGET index")))
            case 0x67: push(try recall(try decimal(try reader.line("GET index"))))
            case 0x63: // GLOBAL: "module\nname\n"
                let module = try decodeString(try reader.line("GLOBAL module"), "GLOBAL module")
                let name = try decodeString(try reader.line("GLOBAL name"), "GLOBAL name")
                push(try TorchGlobals.resolve(module: module, name: name, file: file, offset: opcodeOffset))
            case 0x93: // STACK_GLOBAL
                let nameNode = try pop("STACK_GLOBAL name")
                let moduleNode = try pop("STACK_GLOBAL module")
                guard case let .leaf(.string(name)) = nameNode, case let .leaf(.string(module)) = moduleNode else {
                    throw malformed("STACK_GLOBAL needs two strings")
                }
                push(try TorchGlobals.resolve(module: module, name: name, file: file, offset: opcodeOffset))
            case 0x52: // REDUCE
                let arguments = try pop("REDUCE arguments")
                let callable = try pop("REDUCE callable")
                push(try call(callable, arguments, depth: 0))
            case 0x81: // NEWOBJ
                let arguments = try pop("NEWOBJ arguments")
                let cls = try pop("NEWOBJ class")
                push(try newObject(cls, arguments))
            case 0x92: // NEWOBJ_EX
                _ = try pop("NEWOBJ_EX kwargs")
                let arguments = try pop("NEWOBJ_EX arguments")
                let cls = try pop("NEWOBJ_EX class")
                push(try newObject(cls, arguments))
            case 0x62: // BUILD
                let state = try pop("BUILD state")
                try build(try top("BUILD target"), state: state)
            case 0x51: // BINPERSID
                let pid = try pop("BINPERSID id")
                push(try loadPersistent(pid))
            case 0x50: // PERSID (protocol 0: an ASCII line)
                let pid = try decodeString(try reader.line("PERSID id"), "PERSID id")
                push(try loadPersistent(.leaf(.string(pid))))
            default:
                throw WeightsError.unsupported(
                    file: file, offset: opcodeOffset,
                    what: "pickle opcode 0x\(String(opcode, radix: 16)) (\(Self.opcodeName(opcode)))")
            }
        }
    }

    // MARK: opcode helpers

    private static func integer(fromLittleEndian digits: ArraySlice<UInt8>) -> PickleValue {
        guard let last = digits.last else { return .int(0) }
        let negative = last & 0x80 != 0
        if digits.count > 8 {
            // Fits in Int only when every extra byte is pure sign extension.
            let fill: UInt8 = negative ? 0xFF : 0x00
            let extra = digits.dropFirst(8)
            let signOK = (digits[digits.startIndex + 7] & 0x80 != 0) == negative
            guard extra.allSatisfy({ $0 == fill }) && signOK else { return .bigInt(Array(digits)) }
        }
        var bits: UInt64 = negative ? ~0 : 0
        for (i, byte) in digits.prefix(8).enumerated() {
            bits &= ~(UInt64(0xFF) << UInt64(8 * i))
            bits |= UInt64(byte) << UInt64(8 * i)
        }
        return .int(Int(Int64(bitPattern: bits)))
    }

    private func decimal(_ text: ArraySlice<UInt8>) throws -> Int {
        guard let string = String(bytes: text, encoding: .ascii), let value = Int(string), value >= 0 else {
            throw malformed("expected a decimal memo index")
        }
        return value
    }

    private func pairs(_ items: [PickleNode]) throws -> [(PickleNode, PickleNode)] {
        guard items.count % 2 == 0 else { throw malformed("odd number of items (\(items.count)) for a dict") }
        return stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }
    }

    private mutating func append(_ items: [PickleNode], to target: PickleNode) throws {
        guard case let .ref(index) = target else { throw malformed("APPEND(S) target is not a list") }
        switch heap[index] {
        case var .list(existing):
            heap[index] = .list([])  // release the old buffer so the append does not copy
            existing.append(contentsOf: items)
            heap[index] = .list(existing)
        case var .set(existing):
            heap[index] = .set([])
            existing.append(contentsOf: items)
            heap[index] = .set(existing)
        case .dict:
            throw malformed("APPEND(S) target is a dict")
        }
    }

    private mutating func setItems(_ items: [(PickleNode, PickleNode)], in target: PickleNode) throws {
        guard case let .ref(index) = target, case var .dict(entries) = heap[index] else {
            throw malformed("SETITEM(S) target is not a dict")
        }
        heap[index] = .dict([])
        entries.append(contentsOf: items)
        heap[index] = .dict(entries)
    }

    private mutating func loadPersistent(_ pid: PickleNode) throws -> PickleNode {
        guard let persistentLoad else {
            throw WeightsError.unsupported(file: file, offset: opcodeOffset,
                                           what: "persistent id in a pickle that should have none")
        }
        return try persistentLoad(pid, opcodeOffset, self)
    }

    /// BUILD sets an object's attributes. For the objects torch writes (OrderedDict `_metadata`,
    /// Parameter/tensor Python attributes) the state does not change any tensor data, so it is
    /// validated as present and dropped.
    private func build(_ target: PickleNode, state: PickleNode) throws {
        switch target {
        case .ref, .tensor, .object: return
        default: throw malformed("BUILD on a value that has no attributes")
        }
    }

    private mutating func newObject(_ cls: PickleNode, _ arguments: PickleNode) throws -> PickleNode {
        guard case let .global(module, name) = cls else { throw malformed("NEWOBJ class is not a global") }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            return allocate(.dict([]))
        case ("builtins", "set"), ("__builtin__", "set"):
            return allocate(.set([]))
        default:
            return try call(cls, arguments, depth: 0)
        }
    }

    /// REDUCE: calls one of the allow-listed globals.
    private mutating func call(_ callable: PickleNode, _ argumentsNode: PickleNode, depth: Int) throws -> PickleNode {
        guard depth < 8 else { throw malformed("tensor rebuild functions nested too deeply") }
        guard case let .global(module, name) = callable else {
            throw malformed("REDUCE callable is not a global")
        }
        guard case let .tuple(args, _) = argumentsNode else {
            throw malformed("REDUCE arguments for \(module).\(name) are not a tuple")
        }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            if args.isEmpty { return allocate(.dict([])) }
            // dict(iterable_of_pairs)
            guard args.count == 1, case let .ref(index) = args[0], case let .list(items) = heap[index] else {
                throw malformed("\(module).\(name) called with unsupported arguments")
            }
            var entries: [(PickleNode, PickleNode)] = []
            for item in items {
                // Python 2-era pickles pass [key, value] lists rather than tuples.
                var pair: [PickleNode] = []
                if case let .tuple(elements, _) = item { pair = elements }
                if case let .ref(inner) = item, case let .list(elements) = heap[inner] { pair = elements }
                guard pair.count == 2 else {
                    throw malformed("\(module).\(name) item is not a (key, value) pair")
                }
                entries.append((pair[0], pair[1]))
            }
            return allocate(.dict(entries))
        case ("builtins", "set"), ("builtins", "frozenset"), ("__builtin__", "set"), ("__builtin__", "frozenset"):
            if args.isEmpty { return allocate(.set([])) }
            guard args.count == 1, case let .ref(index) = args[0], case let .list(items) = heap[index] else {
                throw malformed("\(module).\(name) called with unsupported arguments")
            }
            return allocate(.set(items))
        case ("_codecs", "encode"):
            // Protocol 2 pickles bytes as _codecs.encode(text, "latin1").
            guard args.count == 2, case let .leaf(.string(text)) = args[0],
                  case let .leaf(.string(encoding)) = args[1] else {
                throw malformed("_codecs.encode needs (str, str)")
            }
            switch encoding.lowercased() {
            case "latin1", "latin-1", "iso-8859-1":
                var bytes: [UInt8] = []
                for scalar in text.unicodeScalars {
                    guard scalar.value < 256 else { throw malformed("_codecs.encode: non-Latin-1 character") }
                    bytes.append(UInt8(scalar.value))
                }
                return .leaf(.bytes(bytes))
            case "utf-8", "utf8":
                return .leaf(.bytes(Array(text.utf8)))
            default:
                throw WeightsError.unsupported(file: file, offset: opcodeOffset, what: "_codecs.encode encoding '\(encoding)'")
            }
        case ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"):
            guard args.count >= 4 else { throw malformed("\(name) needs at least 4 arguments, got \(args.count)") }
            guard case let .storage(storage) = args[0] else { throw malformed("\(name): first argument is not a storage") }
            guard case let .leaf(.int(offset)) = args[1], offset >= 0 else {
                throw malformed("\(name): storage offset is not a non-negative int")
            }
            let shape = try intTuple(args[2], "\(name) size")
            let stride = try intTuple(args[3], "\(name) stride")
            guard shape.count == stride.count else {
                throw malformed("\(name): size has \(shape.count) dims but stride has \(stride.count)")
            }
            guard shape.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }) else {
                throw malformed("\(name): negative size or stride")
            }
            return .tensor(LazyTensor(storage: storage, offset: offset, shape: shape, stride: stride))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = args.first, case .tensor = data else { throw malformed("\(name): first argument is not a tensor") }
            return data
        case ("torch._tensor", "_rebuild_from_type_v2"), ("torch._tensor", "_rebuild_from_type"):
            // (func, type, args, state): the tensor is func(*args); the Python type and its
            // attributes do not affect the data.
            guard args.count >= 3 else { throw malformed("\(name) needs (func, type, args, ...)") }
            return try call(args[0], args[2], depth: depth + 1)
        case ("torch", "device"):
            return .object(type: "torch.device", arguments: args, depth: 1 + (args.map(\.depth).max() ?? 0))
        case ("torch", "Size"):
            guard args.count == 1, case .tuple = args[0] else { throw malformed("torch.Size needs one tuple") }
            return args[0]
        default:
            throw WeightsError.unsupported(file: file, offset: opcodeOffset, what: "calling \(module).\(name)")
        }
    }

    private func intTuple(_ node: PickleNode, _ what: String) throws -> [Int] {
        let items: [PickleNode]
        switch node {
        case let .tuple(elements, _): items = elements
        case let .ref(index):
            guard case let .list(elements) = heap[index] else { throw malformed("\(what) is not a tuple") }
            items = elements
        default: throw malformed("\(what) is not a tuple")
        }
        return try items.map {
            guard case let .leaf(.int(value)) = $0 else { throw malformed("\(what) holds a non-int") }
            return value
        }
    }

    // MARK: conversion

    /// Converts a node to a public `PickleValue`, materialising each lazy tensor with `tensor`.
    /// Self-referencing containers and exponential sharing are rejected.
    func value(of node: PickleNode, tensor: (LazyTensor) throws -> Tensor) throws -> PickleValue {
        var budget = Self.maxConvertedNodes
        var active = Set<Int>()
        return try convert(node, tensor: tensor, budget: &budget, active: &active, depth: 0)
    }

    private func convert(_ node: PickleNode, tensor: (LazyTensor) throws -> Tensor,
                         budget: inout Int, active: inout Set<Int>, depth: Int) throws -> PickleValue {
        budget -= 1
        guard budget >= 0 else { throw malformed("pickle expands to more than \(Self.maxConvertedNodes) values") }
        guard depth <= Self.maxDepth else { throw malformed("containers nested deeper than \(Self.maxDepth)") }
        func sub(_ child: PickleNode) throws -> PickleValue {
            try convert(child, tensor: tensor, budget: &budget, active: &active, depth: depth + 1)
        }
        switch node {
        case let .leaf(value): return value
        case let .tuple(items, _): return .tuple(try items.map(sub))
        case let .global(module, name): return .global(module: module, name: name)
        case let .storage(ref):
            return .object(type: "torch.storage", arguments: [.string(ref.key), .string(ref.type.rawValue)])
        case let .tensor(lazy): return .tensor(try tensor(lazy))
        case let .object(type, arguments, _): return .object(type: type, arguments: try arguments.map(sub))
        case let .ref(index):
            guard active.insert(index).inserted else { throw malformed("a container contains itself") }
            defer { active.remove(index) }
            switch heap[index] {
            case let .list(items): return .list(try items.map(sub))
            case let .set(items): return .set(try items.map(sub))
            case let .dict(entries): return .dict(try entries.map { (try sub($0.0), try sub($0.1)) })
            }
        }
    }

    /// Names of opcodes this machine deliberately rejects, for error messages.
    static func opcodeName(_ opcode: UInt8) -> String {
        switch opcode {
        case 0x46: return "FLOAT (text, protocol 0)"
        case 0x49: return "INT (text, protocol 0)"
        case 0x4C: return "LONG (text, protocol 0)"
        case 0x53: return "STRING (text, protocol 0)"
        case 0x56: return "UNICODE (text, protocol 0)"
        case 0x69: return "INST"
        case 0x6F: return "OBJ"
        case 0x82, 0x83, 0x84: return "EXT"
        case 0x97: return "NEXT_BUFFER"
        case 0x98: return "READONLY_BUFFER"
        default: return "unknown opcode"
        }
    }
}
