/// The JSON an object was read as, kept beside its typed fields so that an update sends
/// back every field, including those these types do not model.
///
/// It never takes part in coding: the overloads below make synthesized `Codable` skip it,
/// and the client fills it in after reading.
///
/// A cache keeps it `compacted()`: as JSON text, a fraction of the memory of a tree of
/// dictionaries, parsed again only when an update needs it.
public struct Original: Codable, Sendable, Hashable {
    private enum Storage: Sendable {
        case tree(JSONValue)
        case text(String)
    }

    private var storage: Storage?

    public init(_ json: JSONValue? = nil) { storage = json.map(Storage.tree) }

    public var json: JSONValue? {
        get {
            switch storage {
            case nil: nil
            case .tree(let json): json
            // Written by `JSONValue.text`, so it parses.
            case .text(let text): try? JSONValue(parsing: Array(text.utf8))
            }
        }
        set { storage = newValue.map(Storage.tree) }
    }

    /// True when kept as text (see `compacted`).
    public var isCompact: Bool {
        if case .text? = storage { return true }
        return false
    }

    /// The same JSON, kept as text.
    public func compacted() -> Original {
        guard case .tree(let json)? = storage else { return self }
        var copy = self
        copy.storage = .text(json.text)
        return copy
    }

    public init(from decoder: any Decoder) throws { self.init(try JSONValue(from: decoder)) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }

    public static func == (a: Original, b: Original) -> Bool {
        if case .text(let x)? = a.storage, case .text(let y)? = b.storage { return x == y }
        return a.json == b.json
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(json) }
}

extension KeyedDecodingContainer {
    public func decode(_ type: Original.Type, forKey key: Key) throws -> Original { Original() }
}

extension KeyedEncodingContainer {
    public mutating func encode(_ value: Original, forKey key: Key) throws {}
}

extension JSONValue {
    /// Lays `typed` (the encoding of a modified object) over `original` (the JSON it was read
    /// from): fields the types know come from `typed`, so clearing one removes it; fields they
    /// do not know (present in `original` but not in `known`, the encoding of the object as
    /// read) are kept.
    ///
    /// List elements are matched as Kubernetes merges them: a list with list-map keys
    /// (`ListMapKeys`: containers and env by name, volume mounts by mount path, container
    /// ports by port and protocol, conditions by type, ...) by those keys, so an element
    /// keeps its unknown fields however the list was reordered, shortened or extended; any
    /// other list is atomic, as a Kubernetes list without a list type is, and is matched by
    /// position only when it kept its length.
    public static func preservingUnknown(original: JSONValue, known: JSONValue, typed: JSONValue) -> JSONValue {
        merge(original, known, typed, field: nil, parent: nil)
    }

    /// `field` is the name the value sits under (for a list element, the list's), `parent`
    /// the one its object sits under.
    private static func merge(_ original: JSONValue, _ known: JSONValue, _ typed: JSONValue, field: String?, parent: String?) -> JSONValue {
        switch (original, known, typed) {
        case (.object(let o), .object(let k), .object(let t)):
            var result: [String: JSONValue] = [:]
            for (key, value) in o where k[key] == nil { result[key] = value }
            for (key, value) in t {
                if let ov = o[key], let kv = k[key] {
                    result[key] = merge(ov, kv, value, field: key, parent: field)
                } else {
                    result[key] = value
                }
            }
            return .object(result)
        case (.array(let o), .array(let k), .array(let t)):
            if let field, let keys = ListMapKeys.of(field, under: parent) {
                let identity = { (item: JSONValue) in keys.map { key in item[key.name] ?? key.default } }
                let originalIDs = o.map(identity)
                var index: [[JSONValue]: Int] = [:]
                for (i, id) in originalIDs.enumerated() { index[id] = i }
                // Known is the original read and written again: element for element the same
                // keys, unless the types do not model them (then nothing can be matched).
                if index.count == o.count, o.count == k.count, k.map(identity) == originalIDs {
                    return .array(t.map { item in
                        guard let i = index[identity(item)] else { return item }
                        return merge(o[i], k[i], item, field: field, parent: parent)
                    })
                }
            }
            if o.count == k.count, k.count == t.count {
                return .array(zip(zip(o, k), t).map { merge($0.0, $0.1, $1, field: field, parent: parent) })
            }
            return typed
        default:
            return typed
        }
    }
}

/// The keys that identify the elements of a list, as Kubernetes declares them for its own
/// types (`patchMergeKey` and `+listMapKey` in k8s.io/api) and as Stowage's CRDs declare them
/// (`x-kubernetes-list-map-keys`), for the lists Stowage's objects hold. A key the element
/// leaves out has its default (a port's protocol is TCP).
enum ListMapKeys {
    struct Key {
        var name: String
        var `default`: JSONValue = .null
    }

    static let containers: Set = ["containers", "initContainers", "ephemeralContainers"]

    /// The keys of the list `field`, inside an object that sits under `parent`; nil for an
    /// atomic list.
    static func of(_ field: String, under parent: String?) -> [Key]? {
        switch field {
        case "containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets",
             "resourceClaims", "claims":
            [Key(name: "name")]
        case "volumeMounts": [Key(name: "mountPath")]
        case "volumeDevices": [Key(name: "devicePath")]
        case "conditions": [Key(name: "type")]
        case "ownerReferences": [Key(name: "uid")]
        case "hostAliases": [Key(name: "ip")]
        case "topologySpreadConstraints": [Key(name: "topologyKey"), Key(name: "whenUnsatisfiable")]
        case "ports" where parent.map(containers.contains) == true:
            [Key(name: "containerPort"), Key(name: "protocol", default: "TCP")]
        // A Service's.
        case "ports" where parent == "spec": [Key(name: "port"), Key(name: "protocol", default: "TCP")]
        default: nil
        }
    }
}
