import CFaceNet
import Foundation

/// One `cfn_context`: the workspace arena and last error of the thread that runs a forward pass.
///
/// Not safe for concurrent use: a context is owned by one caller at a time, which
/// `InferenceContextPool` guarantees. The arena grows to the largest shape seen and is then
/// reused, so steady-state inference allocates nothing.
final class InferenceContext: @unchecked Sendable {
    let handle: OpaquePointer

    /// Nil when out of memory.
    init?() {
        guard let handle = cfn_context_create() else { return nil }
        self.handle = handle
    }

    deinit { cfn_context_destroy(handle) }

    /// The message of the last failed call.
    var lastError: String { String(cString: cfn_context_last_error(handle)) }
    /// Bytes of workspace currently held.
    var workspaceBytes: Int { cfn_context_workspace_bytes(handle) }
    /// Times the workspace has been (re)allocated.
    var allocationCount: UInt64 { cfn_context_allocation_count(handle) }
}

/// A pool of inference contexts shared by concurrent callers. A caller borrows a context for
/// one forward pass; at most `capacity` contexts are ever created (idle ones are kept).
final class InferenceContextPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [InferenceContext] = []

    /// Borrows a context (reusing an idle one) for the duration of `body`; nil when no context
    /// can be allocated.
    func withContext<R>(_ body: (InferenceContext) -> R?) -> R? {
        guard let context = lock.withLock({ idle.popLast() }) ?? InferenceContext() else {
            return nil
        }
        defer { lock.withLock { idle.append(context) } }
        return body(context)
    }

    /// Borrows `count` distinct contexts at once (creating what is missing) and runs `body` on
    /// each in turn: sizes the workspaces of that many concurrent callers ahead of time. False
    /// when a context cannot be allocated.
    func withEach(of count: Int, _ body: (InferenceContext) -> Void) -> Bool {
        var borrowed: [InferenceContext] = []
        defer { lock.withLock { idle.append(contentsOf: borrowed) } }
        for _ in 0..<count {
            guard let context = lock.withLock({ idle.popLast() }) ?? InferenceContext() else { return false }
            borrowed.append(context)
        }
        borrowed.forEach(body)
        return true
    }

    /// Workspace bytes held by the idle contexts.
    var idleWorkspaceBytes: Int { lock.withLock { idle.reduce(0) { $0 + $1.workspaceBytes } } }
}
