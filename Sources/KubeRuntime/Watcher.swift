import KubeClient
import KubeModel
import Logging

/// What a watcher saw, after it has updated its store.
public enum WatcherEvent<R: KubeResource>: Sendable {
    /// A full (re-)list; `removed` vanished while the watcher was not watching.
    case relisted(current: [R], removed: [R])
    case applied(R)
    case deleted(R)
}

/// Keeps a `Store` in step with the API server: list, then watch from the list's version,
/// resume after the server ends a watch, re-list on Gone, back off on failures. It never
/// stops on its own: errors are logged and retried until its task is cancelled.
public struct Watcher<R: KubeResource>: Sendable {
    public let resources: ResourceClient<R>
    public let store: Store<R>
    public var labelSelector: String?
    public var watchTimeout = 290
    let logger: Logger
    let restarts: (@Sendable (String) -> Void)?

    public init(_ resources: ResourceClient<R>, store: Store<R>, labelSelector: String? = nil, logger: Logger,
                onRestart: (@Sendable (_ reason: String) -> Void)? = nil) {
        self.resources = resources
        self.store = store
        self.labelSelector = labelSelector
        self.logger = logger
        restarts = onRestart
    }

    /// Runs until cancelled, calling `onEvent` after each store update.
    public func run(onEvent: @Sendable (WatcherEvent<R>) async -> Void) async throws {
        var machine = WatcherStateMachine()
        var action = machine.on(.start)
        var log = logger
        log[metadataKey: "kind"] = "\(R.kind)"
        while true {
            try Task.checkCancellation()
            switch action {
            case .none:
                return
            case .list(let delay):
                if delay > .zero { try await Task.sleep(for: delay) }
                do {
                    let (items, version) = try await resources.listAll(ListOptions(labelSelector: labelSelector), each: store.kept)
                    let removed = store.replace(items)
                    machine.resetBackoff()
                    action = machine.on(.listed(resourceVersion: version))
                    log.debug("listed", metadata: ["count": "\(items.count)", "resourceVersion": "\(version)"])
                    await onEvent(.relisted(current: items, removed: removed))
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    log.warning("list failed; retrying", metadata: ["error": "\(error)"])
                    store.listFailed("\(error)")
                    restarts?("list-failed")
                    action = machine.on(.listFailed)
                }
            case .watch(let version, let delay):
                if delay > .zero { try await Task.sleep(for: delay) }
                let started = ContinuousClock.now
                do {
                    var options = WatchOptions(resourceVersion: version, labelSelector: labelSelector)
                    options.timeoutSeconds = watchTimeout
                    for try await event in try await resources.watch(options) {
                        switch event {
                        case .added(let o), .modified(let o):
                            store.apply(o)
                            _ = machine.on(.progressed(resourceVersion: o.metadata.resourceVersion ?? version))
                            await onEvent(.applied(o))
                        case .deleted(let o):
                            store.delete(o)
                            _ = machine.on(.progressed(resourceVersion: o.metadata.resourceVersion ?? version))
                            await onEvent(.deleted(o))
                        case .bookmark(let v):
                            _ = machine.on(.progressed(resourceVersion: v))
                        }
                    }
                    action = machine.on(.watchEnded(healthyFor: ContinuousClock.now - started))
                } catch is CancellationError {
                    throw CancellationError()
                } catch KubeClientError.api(let e) where e.code == .gone {
                    log.info("resourceVersion expired; re-listing", metadata: ["resourceVersion": "\(version)"])
                    restarts?("expired")
                    action = machine.on(.watchExpired)
                } catch {
                    try Task.checkCancellation()
                    log.warning("watch failed; resuming", metadata: ["error": "\(error)"])
                    restarts?("watch-failed")
                    action = machine.on(.watchFailed(healthyFor: ContinuousClock.now - started))
                }
            }
        }
    }
}
