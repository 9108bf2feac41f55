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
/// each forward pass it runs at once; at most `capacity` contexts are ever created (idle ones
/// are kept), and a caller that finds too few free waits for them to come back.
final class InferenceContextPool: @unchecked Sendable {
    /// The most contexts this pool creates.
    let capacity: Int
    /// Where the contexts' helper threads count themselves (a ``ComputeBudget``'s gauge).
    private let gauge: OpaquePointer?
    private let condition = NSCondition()
    private var idle: [InferenceContext] = []
    private var created = 0
    private var waiting = 0

    init(capacity: Int, gauge: OpaquePointer? = nil) {
        self.capacity = max(1, capacity)
        self.gauge = gauge
    }

    /// The contexts a model built on `budget` may use: one per thread of the budget.
    convenience init(budget: ComputeBudget) {
        self.init(capacity: budget.threads, gauge: budget.gauge)
    }

    /// Contexts created so far (never more than `capacity`).
    var createdCount: Int { condition.withLock { created } }

    /// `count` distinct contexts (at most `capacity`), taken together: waits until that many are
    /// idle or may still be created, then takes them at once. A caller never holds some while
    /// waiting for more, so two callers cannot each hold part of what the other waits for
    /// (one preparing four workspaces while a pass side by side with another waits for its
    /// second). Nil when a new context cannot be allocated.
    private func borrow(_ count: Int) -> [InferenceContext]? {
        let wanted = min(max(count, 1), capacity)
        return condition.withLock {
            waiting += 1
            while idle.count + (capacity - created) < wanted { condition.wait() }
            waiting -= 1
            var taken = Array(idle.suffix(wanted))
            idle.removeLast(taken.count)
            while taken.count < wanted {
                guard let context = InferenceContext() else {
                    idle.append(contentsOf: taken)
                    condition.broadcast()
                    return nil
                }
                cfn_context_set_thread_gauge(context.handle, gauge)
                created += 1
                taken.append(context)
            }
            return taken
        }
    }

    /// Callers waiting for contexts right now (for tests).
    var waitingCount: Int { condition.withLock { waiting } }

    private func giveBack(_ contexts: [InferenceContext]) {
        condition.withLock {
            idle.append(contentsOf: contexts)
            condition.broadcast()
        }
    }

    /// Borrows a context (reusing an idle one) for the duration of `body`; nil when no context
    /// can be allocated.
    func withContext<R>(_ body: (InferenceContext) -> R?) -> R? {
        guard let borrowed = borrow(1) else { return nil }
        defer { giveBack(borrowed) }
        return body(borrowed[0])
    }

    /// Borrows `count` distinct contexts at once (at most `capacity`, at least one; creating
    /// what is missing) for the duration of `body`: the workspaces of passes run side by side,
    /// each sure of its own before any starts. Nil when a context cannot be allocated.
    func withContexts<R>(_ count: Int, _ body: ([InferenceContext]) -> R) -> R? {
        guard let borrowed = borrow(count) else { return nil }
        defer { giveBack(borrowed) }
        return body(borrowed)
    }

    /// Runs `body` on each of `count` distinct contexts borrowed at once, in turn: sizes the
    /// workspaces of that many concurrent callers ahead of time. False when a context cannot
    /// be allocated.
    func withEach(of count: Int, _ body: (InferenceContext) -> Void) -> Bool {
        withContexts(count) { $0.forEach(body) } != nil
    }

    /// Workspace bytes held by the idle contexts.
    var idleWorkspaceBytes: Int { condition.withLock { idle.reduce(0) { $0 + $1.workspaceBytes } } }
}
