import KubeClient
import KubeModel

/// Runs one reconcile of `object` through a finalizer, so that an object the controller has
/// acted on cannot disappear before the controller has undone what it did (kube-rs
/// `finalizer.rs`; STYLE.md habit 3). Watch Delete events are never relied upon.
///
/// Contract:
/// - Not being deleted, finalizer missing: adds `finalizerName`, then runs `apply` on the
///   object as the server returned it.
/// - Not being deleted, finalizer present: runs `apply`.
/// - Being deleted, finalizer present: runs `cleanup`; only when it returns `.done` without
///   throwing is the finalizer removed, letting the API server delete the object. A
///   `.requeue(after:)` or a thrown error keeps the finalizer (and the object).
/// - Being deleted, finalizer absent: returns `.done` (our part is finished; other
///   finalizers are someone else's).
///
/// Both `apply` and `cleanup` must be idempotent: either may run again after a crash, a
/// conflict, or a retry. The finalizer is added and removed with JSON patches that `test`
/// the finalizers they change, so a concurrent edit of the list fails (and the pass is
/// retried from a fresh read) instead of being overwritten; other edits of the object do
/// not conflict.
///
/// Throws what `apply` or `cleanup` throws, and the API's error when a patch fails.
public func finalizer<R: KubeResource>(
    _ client: ResourceClient<R>,
    name finalizerName: String,
    object: R,
    apply: (R) async throws -> ReconcileAction,
    cleanup: (R) async throws -> ReconcileAction
) async throws -> ReconcileAction {
    guard let name = object.metadata.name else {
        throw TerminalError(reason: "NoName", "the object has no metadata.name")
    }
    let finalizers = object.metadata.finalizers ?? []
    // The object names its namespace; an all-namespaces client cannot patch it.
    let scoped = R.namespaced ? client.client.resource(R.self, namespace: object.metadata.namespace ?? client.namespace) : client

    if object.metadata.deletionTimestamp != nil {
        guard let index = finalizers.firstIndex(of: finalizerName) else { return .done }
        let action = try await cleanup(object)
        guard action == .done else { return action }
        // Remove by index, guarded by a test that the index still holds our name.
        let path = JSONValue.string("/metadata/finalizers/\(index)")
        _ = try await scoped.patch(name, .json, [
            ["op": "test", "path": path, "value": .string(finalizerName)],
            ["op": "remove", "path": path],
        ])
        return .done
    }

    guard finalizers.contains(finalizerName) else {
        let patch: JSONValue
        if finalizers.isEmpty {
            // An absent list reads as null to `test`; an empty one as [].
            let current: JSONValue = object.metadata.finalizers == nil ? .null : .array([])
            patch = [
                ["op": "test", "path": "/metadata/finalizers", "value": current],
                ["op": "add", "path": "/metadata/finalizers", "value": [.string(finalizerName)]],
            ]
        } else {
            patch = [
                ["op": "test", "path": "/metadata/finalizers", "value": .array(finalizers.map(JSONValue.string))],
                ["op": "add", "path": "/metadata/finalizers/-", "value": .string(finalizerName)],
            ]
        }
        let updated = try await scoped.patch(name, .json, patch)
        return try await apply(updated)
    }
    return try await apply(object)
}
