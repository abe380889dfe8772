import Foundation
import HTTP
import KubeModel

/// Options of a list call.
public struct ListOptions: Sendable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Page size; follow `metadata.continue` for the rest (or use `listAll`).
    public var limit: Int?
    public var continueToken: String?
    public var resourceVersion: String?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        if let limit { q.append(("limit", "\(limit)")) }
        if let continueToken { q.append(("continue", continueToken)) }
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        return q
    }
}

/// Options of a watch call.
public struct WatchOptions: Sendable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Start after this version (from a list); nil starts with synthetic ADDED events.
    public var resourceVersion: String?
    public var allowBookmarks = true
    /// The server ends the watch after this long (client-go uses 5-10 minutes).
    public var timeoutSeconds: Int? = 300

    public init(resourceVersion: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil) {
        self.resourceVersion = resourceVersion
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
    }
}

/// How a patch body is to be read.
public enum PatchKind: Sendable {
    case merge, json, strategicMerge, apply

    var contentType: String {
        switch self {
        case .merge: "application/merge-patch+json"
        case .json: "application/json-patch+json"
        case .strategicMerge: "application/strategic-merge-patch+json"
        case .apply: "application/apply-patch+yaml"
        }
    }
}

public enum PropagationPolicy: String, Sendable {
    case foreground = "Foreground", background = "Background", orphan = "Orphan"
}

/// One event of a watch.
public enum WatchEvent<R: KubeResource>: Sendable {
    case added(R)
    case modified(R)
    case deleted(R)
    /// The watch has seen everything up to this version (no object change).
    case bookmark(resourceVersion: String)
}

/// Typed operations on one kind, in one namespace or across all (STYLE.md habit 6: one
/// generic client; status operations unlock `where R: HasStatus`).
public struct ResourceClient<R: KubeResource>: Sendable {
    public let client: KubeClient
    public let namespace: String?

    var collectionPath: String {
        let root = R.group.isEmpty ? "/api/\(R.version)" : "/apis/\(R.group)/\(R.version)"
        guard let namespace else { return "\(root)/\(R.plural)" }
        return "\(root)/namespaces/\(namespace)/\(R.plural)"
    }

    func path(_ name: String, _ subresource: String? = nil) -> String {
        collectionPath + "/" + KubeClient.escape(name) + (subresource.map { "/" + $0 } ?? "")
    }

    // MARK: read

    public func get(_ name: String) async throws -> R {
        try Self.decodeObject(try await client.send(.init(method: .get, path: path(name))).body)
    }

    /// One page of a list.
    public func list(_ options: ListOptions = ListOptions()) async throws -> ResourceList<R> {
        let body = try await client.send(.init(method: .get, path: collectionPath, query: options.query)).body
        return try decodeList(body)
    }

    /// Every page of a list, and the resourceVersion to watch from.
    /// `each` is applied to the items of a page as it arrives: a cache that keeps a slimmer
    /// form of each object never holds the whole list in full.
    public func listAll(_ options: ListOptions = ListOptions(), each: (R) -> R = { $0 }) async throws
        -> (items: [R], resourceVersion: String) {
        var options = options
        if options.limit == nil { options.limit = 500 }
        var items: [R] = []
        while true {
            let page = try await list(options)
            if items.isEmpty, let more = page.metadata.remainingItemCount, more > 0, more < Int64(Int32.max) {
                items.reserveCapacity(page.items.count + Int(more))
            }
            items += page.items.map(each)
            guard let next = page.metadata.continue, !next.isEmpty else {
                return (items, page.metadata.resourceVersion ?? "")
            }
            options.continueToken = next
        }
    }

    /// Changes as they happen. A `resourceVersion` too old for the server ends the sequence
    /// with `KubeAPIError` code `.gone`: re-list.
    public func watch(_ options: WatchOptions = WatchOptions()) async throws -> WatchSequence<R> {
        var query: [(String, String)] = [("watch", "1")]
        if let v = options.resourceVersion { query.append(("resourceVersion", v)) }
        if options.allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let s = options.labelSelector { query.append(("labelSelector", s)) }
        if let s = options.fieldSelector { query.append(("fieldSelector", s)) }
        if let t = options.timeoutSeconds { query.append(("timeoutSeconds", "\(t)")) }
        let body = try await client.stream(.init(method: .get, path: collectionPath, query: query))
        return WatchSequence(lines: body.lines)
    }

    // MARK: write

    public func create(_ object: R) async throws -> R {
        let ns = object.metadata.namespace ?? namespace
        let target = ResourceClient(client: client, namespace: R.namespaced ? ns : nil)
        return try Self.decodeObject(try await client.send(.init(method: .post, path: target.collectionPath, body: try Self.encodeObject(object))).body)
    }

    /// Replaces the object; its `metadata.resourceVersion` makes a stale write a `.conflict`.
    public func update(_ object: R) async throws -> R {
        try await replace(object, subresource: nil)
    }

    public func patch(_ name: String, _ kind: PatchKind, _ body: JSONValue, fieldManager: String? = nil) async throws -> R {
        try await patch(name, kind, body, fieldManager: fieldManager, subresource: nil)
    }

    /// Server-side apply of the fields `object` sets, owned by `fieldManager`; another
    /// manager's fields conflict unless `force`.
    public func apply(_ object: R, fieldManager: String, force: Bool = false) async throws -> R {
        guard let name = object.metadata.name else { throw KubeClientError.decoding("apply", underlying: "metadata.name is required") }
        var object = object
        object.metadata.managedFields = nil
        object.original = Original()
        let body = try JSONValue(encoding: object)
        return try await patch(name, .apply, body, fieldManager: fieldManager, subresource: nil, force: force)
    }

    /// Deletes `name`. With `preconditions`, the server refuses (`.conflict`) if the object
    /// changed identity or version since it was read.
    public func delete(_ name: String, propagation: PropagationPolicy? = nil, preconditions: (uid: String?, resourceVersion: String?)? = nil) async throws {
        var options: [String: JSONValue] = ["apiVersion": "v1", "kind": "DeleteOptions"]
        if let propagation { options["propagationPolicy"] = .string(propagation.rawValue) }
        if let p = preconditions {
            var pre: [String: JSONValue] = [:]
            if let uid = p.uid { pre["uid"] = .string(uid) }
            if let rv = p.resourceVersion { pre["resourceVersion"] = .string(rv) }
            options["preconditions"] = .object(pre)
        }
        _ = try await client.send(.init(method: .delete, path: path(name), body: Data(JSONValue.object(options).bytes)))
    }

    // MARK: helpers

    func replace(_ object: R, subresource: String?) async throws -> R {
        guard let name = object.metadata.name else { throw KubeClientError.decoding("update", underlying: "metadata.name is required") }
        let target = ResourceClient(client: client, namespace: R.namespaced ? (object.metadata.namespace ?? namespace) : nil)
        return try Self.decodeObject(try await client.send(.init(method: .put, path: target.path(name, subresource), body: try Self.encodeObject(object))).body)
    }

    func patch(_ name: String, _ kind: PatchKind, _ body: JSONValue, fieldManager: String?, subresource: String?, force: Bool = false) async throws -> R {
        var query: [(String, String)] = []
        if let fieldManager { query.append(("fieldManager", fieldManager)) }
        if force { query.append(("force", "true")) }
        let call = KubeClient.Call(method: .patch, path: path(name, subresource), query: query,
                                   body: Data(body.bytes), contentType: kind.contentType)
        return try Self.decodeObject(try await client.send(call).body)
    }

    /// The object's JSON with unknown fields of the version it was read from kept, written by
    /// `JSONValue.bytes` so that their numbers go back exactly as they came.
    static func encodeObject(_ object: R) throws -> Data {
        let typed = try JSONValue(encoding: object)
        guard let original = object.original.json else { return Data(typed.bytes) }
        let known = try JSONValue(encoding: try original.decode(as: R.self))
        return Data(JSONValue.preservingUnknown(original: original, known: known, typed: typed).bytes)
    }

    /// Reads a response body: the bytes are parsed once into a tree, which becomes the
    /// object's `Original`, and the typed object is decoded from that tree (sharing its
    /// strings) rather than from the bytes again.
    static func decodeObject(_ data: Data) throws -> R {
        do {
            let json = try JSONValue(parsing: data)
            var object = try json.decode(as: R.self)
            object.original = Original(json)
            return object
        } catch {
            throw KubeClientError.decoding(R.kind, underlying: "\(error)")
        }
    }

    func decodeList(_ data: Data) throws -> ResourceList<R> {
        do {
            guard case .object(let list) = try JSONValue(parsing: data) else {
                throw KubeClientError.decoding("\(R.kind) list", underlying: "not a JSON object")
            }
            // Items of a list carry no apiVersion and kind; put them back so each item reads
            // (and later writes) as a whole object.
            var items: [R] = []
            if case .array(let raw)? = list["items"] {
                items.reserveCapacity(raw.count)
                for case .object(var item) in raw {
                    item["apiVersion"] = .string(R.apiVersion)
                    item["kind"] = .string(R.kind)
                    let json = JSONValue.object(item)
                    var object = try json.decode(as: R.self)
                    object.original = Original(json)
                    items.append(object)
                }
            }
            var head = list
            head["items"] = []
            var result = try JSONValue.object(head).decode(as: ResourceList<R>.self)
            result.items = items
            return result
        } catch let error as KubeClientError {
            throw error
        } catch {
            throw KubeClientError.decoding("\(R.kind) list", underlying: "\(error)")
        }
    }
}

extension ResourceClient where R: HasStatus {
    public func getStatus(_ name: String) async throws -> R {
        try Self.decodeObject(try await client.send(.init(method: .get, path: path(name, "status"))).body)
    }

    /// Writes the status subresource (the spec in `object` is ignored by the server).
    public func updateStatus(_ object: R) async throws -> R {
        try await replace(object, subresource: "status")
    }

    public func patchStatus(_ name: String, _ kind: PatchKind, _ body: JSONValue, fieldManager: String? = nil) async throws -> R {
        try await patch(name, kind, body, fieldManager: fieldManager, subresource: "status")
    }
}

/// The events of one watch connection, decoded as they arrive. Ends when the server closes
/// the watch (its timeout); throws `.gone` when the resourceVersion expired.
public struct WatchSequence<R: KubeResource>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<R>
    let lines: HTTPLines

    public struct AsyncIterator: AsyncIteratorProtocol {
        var lines: HTTPLines.AsyncIterator

        public mutating func next() async throws -> WatchEvent<R>? {
            while true {
                let line: Data?
                do { line = try await lines.next() } catch let e as HTTPError { throw KubeClientError.transport(e) }
                guard let line else { return nil }
                if line.isEmpty { continue }
                return try Self.event(line)
            }
        }

        /// One line of the stream, parsed once; the typed object is decoded from the tree,
        /// which it keeps as its `Original`.
        static func event(_ line: Data) throws -> WatchEvent<R> {
            let type: String, object: JSONValue
            do {
                let envelope = try JSONValue(parsing: line)
                guard let t = envelope["type"]?.stringValue, let o = envelope["object"] else {
                    throw KubeClientError.decoding("watch event", underlying: "expected an object with type and object")
                }
                (type, object) = (t, o)
            } catch let error as KubeClientError {
                throw error
            } catch {
                throw KubeClientError.decoding("watch event", underlying: "\(error)")
            }
            switch type {
            case "ERROR":
                let status = (try? object.decode(as: Status.self)) ?? Status(message: "watch error")
                let body = (try? JSONEncoder.kube.encode(object)) ?? Data()
                throw KubeClientError.api(KubeAPIError(httpStatus: status.code ?? 500, body: body, retryAfterHeader: nil))
            case "BOOKMARK":
                return .bookmark(resourceVersion: object["metadata"]?["resourceVersion"]?.stringValue ?? "")
            case "ADDED", "MODIFIED", "DELETED":
                var typed: R
                do { typed = try object.decode(as: R.self) } catch {
                    throw KubeClientError.decoding("\(R.kind) in watch event", underlying: "\(error)")
                }
                typed.original = Original(object)
                switch type {
                case "ADDED": return .added(typed)
                case "MODIFIED": return .modified(typed)
                default: return .deleted(typed)
                }
            default:
                throw KubeClientError.decoding("watch event", underlying: "unknown type \(type)")
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(lines: lines.makeAsyncIterator()) }
}

extension ResourceClient where R == Pod {
    /// The last `tailLines` lines a container of pod `name` wrote (`kubectl logs --tail`).
    public func log(_ name: String, container: String, tailLines: Int) async throws -> String {
        let call = KubeClient.Call(method: .get, path: path(name, "log"), query: [("container", container), ("tailLines", String(tailLines))],
                                   timeout: .seconds(10))
        return String(decoding: try await client.send(call).body, as: UTF8.self)
    }
}
