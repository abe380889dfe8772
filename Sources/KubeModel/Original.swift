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
    /// read) are kept. List elements are matched by `name` when they have one.
    public static func preservingUnknown(original: JSONValue, known: JSONValue, typed: JSONValue) -> JSONValue {
        switch (original, known, typed) {
        case (.object(let o), .object(let k), .object(let t)):
            var result: [String: JSONValue] = [:]
            for (key, value) in o where k[key] == nil { result[key] = value }
            for (key, value) in t {
                if let ov = o[key], let kv = k[key] {
                    result[key] = preservingUnknown(original: ov, known: kv, typed: value)
                } else {
                    result[key] = value
                }
            }
            return .object(result)
        case (.array(let o), .array(let k), .array(let t)):
            let names = { (items: [JSONValue]) in items.map { $0["name"]?.stringValue } }
            let on = names(o), kn = names(k), tn = names(t)
            if o.count == k.count, !on.contains(nil), on == kn, Set(on).count == on.count, !tn.contains(nil) {
                return .array(t.map { item in
                    guard let i = on.firstIndex(of: item["name"]?.stringValue) else { return item }
                    return preservingUnknown(original: o[i], known: k[i], typed: item)
                })
            }
            if o.count == k.count, k.count == t.count {
                return .array(zip(zip(o, k), t).map { preservingUnknown(original: $0.0, known: $0.1, typed: $1) })
            }
            return typed
        default:
            return typed
        }
    }
}
