import KubeModel
import Synchronization

/// The in-memory cache of one kind, fed by a watcher: controllers read here and write to
/// the API (STYLE.md habit 5). Safe for any number of concurrent readers.
///
/// Indexes: by namespace and by owner UID always, plus any named index functions given at
/// creation (an index function returns the values an object is filed under).
///
/// The cache keeps objects without `metadata.managedFields` (controller-runtime's default
/// transform does the same): they are often the largest part of an object and no controller
/// reads them, and an update made from a cached object leaves them as the server has them.
/// It keeps each object's `original` JSON as compact text (see `kept`).
///
/// Derived values: a store made with `derive` keeps, beside each object, what that function
/// made of it when it was stored (a reader's precomputed view, say the admission webhook's:
/// an immutable object whose fields a request reads in place). Reading it back copies one
/// reference, where reading the object copies, and so retains, every string, array and
/// dictionary in it. A value is derived once per stored version, off the request path.
///
/// Read your own writes: a controller hands the object a write returned to `wrote`, so its
/// next pass sees that version even before the watch delivers it (instead of a stale one
/// whose status update would only earn a Conflict). A watch event older than what the store
/// holds is then skipped. Kubernetes calls resourceVersions opaque; like client-go's
/// MutationCache, this compares them as integers (etcd's revisions, which every apiserver
/// backed by etcd gives) and, when either is not an integer, simply takes the newest event.
public final class Store<R: KubeResource>: Sendable {
    public typealias IndexFunction = @Sendable (R) -> [String]
    public typealias DeriveFunction = @Sendable (R) -> any AnyObject & Sendable

    private struct State {
        var objects: [String: R] = [:]
        /// What `derive` made of each object (empty without `derive`).
        var derived: [String: any AnyObject & Sendable] = [:]
        /// index name -> value -> keys
        var indexes: [String: [String: Set<String>]] = [:]
        /// Why the last list failed, until one succeeds (for "why is this cache not synced").
        var listFailure: String?
        /// resourceVersions of recently deleted objects, so that a write answered before
        /// the deletion was seen cannot bring the object back.
        var tombstones: [String: UInt64] = [:]
        /// Index functions by name; more may be added (`addIndexes`) by the users of a shared store.
        var indexFunctions: [String: IndexFunction] = [:]
        var derive: DeriveFunction?
    }

    private let state = Mutex(State())
    /// True once the first full list is in (set after the objects, so a reader that sees it
    /// sees them).
    private let synced = Latch(false)
    private let keepsOriginalFlag: Atomic<Bool>
    var keepsOriginal: Bool { keepsOriginalFlag.load(ordering: .relaxed) }

    public static var namespaceIndex: String { "namespace" }
    public static var ownerIndex: String { "owner" }

    /// `keepsOriginal: false` drops the JSON each object was read as (`original`, otherwise
    /// kept as compact text, about as large as the typed object), for kinds that are never updated from the cache (only read, created,
    /// patched or deleted by name): an update from such a copy would strip unmodelled fields.
    ///
    /// `derive`: see "Derived values" above.
    public init(indexes: [String: IndexFunction] = [:], keepsOriginal: Bool = true, derive: DeriveFunction? = nil) {
        keepsOriginalFlag = Atomic(keepsOriginal)
        var all = indexes
        all[Self.namespaceIndex] = { [$0.metadata.namespace ?? ""] }
        all[Self.ownerIndex] = { ($0.metadata.ownerReferences ?? []).map(\.uid) }
        state.withLock { s in
            s.indexFunctions = all
            s.derive = derive
        }
    }

    // MARK: what the users of a shared store ask of it (see `SharedCaches`)

    /// Adds index functions, filing the objects already stored under them too. An index of
    /// the same name is kept as it is: two users asking for one index share it.
    func addIndexes(_ indexes: [String: IndexFunction]) {
        state.withLock { s in
            for (name, function) in indexes where s.indexFunctions[name] == nil {
                s.indexFunctions[name] = function
                for (key, object) in s.objects { Self.file(key, object, index: name, function, in: &s) }
            }
        }
    }

    /// Keeps each object's `original` from now on (a user that updates from the cache);
    /// before the first list, so that no stored object lacks it.
    func keepOriginals() { keepsOriginalFlag.store(true, ordering: .relaxed) }

    /// Sets the derive function; before the first list, so that every object has its value.
    /// A store has at most one (false when another is already set).
    func setDerive(_ derive: @escaping DeriveFunction) -> Bool {
        state.withLock { s in
            guard s.derive == nil else { return false }
            s.derive = derive
            for (key, object) in s.objects { s.derived[key] = derive(object) }
            return true
        }
    }

    /// The names of its indexes, for tests and diagnostics.
    public var indexNames: Set<String> { state.withLock { Set($0.indexFunctions.keys) } }

    public func get(_ key: String) -> R? { state.withLock { $0.objects[key] } }

    public func get(namespace: String?, name: String) -> R? {
        get(namespace.map { "\($0)/\(name)" } ?? name)
    }

    public var all: [R] { state.withLock { Array($0.objects.values) } }
    public var count: Int { state.withLock { $0.objects.count } }

    /// Objects filed under `value` in index `name`.
    public func byIndex(_ name: String, _ value: String) -> [R] {
        byIndex(name, anyOf: [value])
    }

    /// Objects filed under any of `values` in index `name`, each once, in the order of
    /// `values`: one pass under the lock and one copy of each object (a copy of a large
    /// object retains each of its strings, arrays and dictionaries, which is what the
    /// admission webhook's lookups mostly cost).
    public func byIndex(_ name: String, anyOf values: [String]) -> [R] {
        state.withLock { s in Self.collect(in: s, index: name, anyOf: values, from: s.objects) }
    }

    /// What `derive` made of the object stored under `key`, if it is a `T`.
    public func derived<T: AnyObject>(_ key: String, as type: T.Type) -> T? {
        state.withLock { $0.derived[key] } as? T
    }

    public func derived<T: AnyObject>(namespace: String?, name: String, as type: T.Type) -> T? {
        derived(namespace.map { "\($0)/\(name)" } ?? name, as: type)
    }

    /// What `derive` made of the objects filed under any of `values` in index `name`, each
    /// once, in the order of `values`, as `byIndex` finds them; only references are copied.
    public func derived<T: AnyObject>(byIndex name: String, anyOf values: [String], as type: T.Type) -> [T] {
        let found = state.withLock { s in Self.collect(in: s, index: name, anyOf: values, from: s.derived) }
        var typed: [T] = []
        typed.reserveCapacity(found.count)
        for value in found { if let value = value as? T { typed.append(value) } }
        return typed
    }

    /// The values in `table` of the keys filed under any of `values` in index `name`: one
    /// pass under the caller's lock, each key once. Plain loops: `compactMap` and `filter`,
    /// called from another module, ran unspecialized and copied every object once more.
    /// Keys are only checked for repeats once a second value has keys of its own (most
    /// lookups find one value filed): the first value's keys are a set already.
    private static func collect<V>(in s: State, index name: String, anyOf values: [String], from table: [String: V]) -> [V] {
        guard let index = s.indexes[name] else { return [] }
        var found: [V] = []
        var seen: Set<String>?
        for value in values {
            guard let keys = index[value], !keys.isEmpty else { continue }
            guard seen != nil else {
                seen = keys
                for key in keys { if let object = table[key] { found.append(object) } }
                continue
            }
            for key in keys where seen!.insert(key).inserted {
                if let object = table[key] { found.append(object) }
            }
        }
        return found
    }

    /// True once the first full list is in.
    public var isSynced: Bool { synced.value }

    /// Why the watcher's last list failed, or nil once a list succeeded.
    public var listFailure: String? { state.withLock { $0.listFailure } }

    func listFailed(_ reason: String) { state.withLock { $0.listFailure = reason } }

    /// Returns once the first full list is in, or when the waiting task is cancelled (an
    /// operator told to stop must not wait for a list that may never come, e.g. when its
    /// RBAC forbids it). Callers check `isSynced` or cancellation afterwards.
    public func waitUntilSynced() async {
        _ = try? await synced.wait { $0 ? () : nil }
    }

    // MARK: updates from the watcher

    /// Replaces everything with a fresh list; returns the objects that vanished.
    @discardableResult
    func replace(_ objects: [R]) -> [R] {
        let removed = state.withLock { s in
            let fresh = Set(objects.map(\.key))
            let removed = s.objects.values.filter { !fresh.contains($0.key) }
            s.objects = Dictionary(minimumCapacity: objects.count)
            s.derived = [:]
            s.indexes = [:]
            s.tombstones = [:]
            for object in objects { insert(object, into: &s) }
            s.listFailure = nil
            return removed
        }
        synced.withLock { $0 = true }
        return removed
    }

    func apply(_ object: R) {
        state.withLock { s in update(object, in: &s) }
    }

    /// Takes the object a create, update or patch returned (see the type's comment).
    public func wrote(_ object: R) {
        state.withLock { s in
            if let gone = s.tombstones[object.key], let version = object.metadata.resourceVersion.flatMap({ UInt64($0) }),
               version <= gone { return }
            update(object, in: &s)
        }
    }

    /// Replaces the stored version unless `object` is older.
    private func update(_ object: R, in s: inout State) {
        if let old = s.objects[object.key] {
            if Self.isOlder(object, than: old) { return }
            remove(old, from: &s)
        }
        insert(object, into: &s)
    }

    /// The object as the store keeps it: without `managedFields`, and its `original` as
    /// compact text (or dropped, without `keepsOriginal`). Cheap for an object already kept so.
    public func kept(_ object: R) -> R {
        var object = object
        object.metadata.managedFields = nil
        guard keepsOriginal else {
            object.original = Original()
            return object
        }
        if !object.original.isCompact, case .object(var root)? = object.original.json,
           case .object(var metadata)? = root["metadata"], metadata["managedFields"] != nil {
            metadata["managedFields"] = nil
            root["metadata"] = .object(metadata)
            object.original.json = .object(root)
        }
        object.original = object.original.compacted()
        return object
    }

    static func isOlder(_ a: R, than b: R) -> Bool {
        guard let x = a.metadata.resourceVersion.flatMap({ UInt64($0) }),
              let y = b.metadata.resourceVersion.flatMap({ UInt64($0) }) else { return false }
        return x < y
    }

    func delete(_ object: R) {
        state.withLock { s in
            if let old = s.objects[object.key] { remove(old, from: &s) }
            if let version = object.metadata.resourceVersion.flatMap({ UInt64($0) }) {
                // Bounded: a write older than a forgotten deletion is a rare race anyway.
                if s.tombstones.count >= 10_000 { s.tombstones = [:] }
                s.tombstones[object.key] = version
            }
        }
    }

    private func insert(_ object: R, into s: inout State) {
        let key = object.key
        let stored = kept(object)
        s.objects[key] = stored
        if let derive = s.derive { s.derived[key] = derive(stored) }
        for (name, function) in s.indexFunctions { Self.file(key, object, index: name, function, in: &s) }
    }

    /// Files `key` under each value `function` gives `object` in the index `name`.
    private static func file(_ key: String, _ object: R, index name: String, _ function: IndexFunction, in s: inout State) {
        for value in function(object) { s.indexes[name, default: [:]][value, default: []].insert(key) }
    }

    private func remove(_ object: R, from s: inout State) {
        let key = object.key
        s.objects[key] = nil
        s.derived[key] = nil
        for (name, function) in s.indexFunctions {
            for value in function(object) {
                s.indexes[name]?[value]?.remove(key)
                if s.indexes[name]?[value]?.isEmpty == true { s.indexes[name]?[value] = nil }
            }
        }
    }
}

/// A cache a controller waits on before its workers start.
protocol SyncedCache: Sendable {
    var kind: String { get }
    var isSynced: Bool { get }
    var listFailure: String? { get }
    func waitUntilSynced() async
}

extension Store: SyncedCache {
    var kind: String { R.kind }
}
