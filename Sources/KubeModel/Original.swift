/// The JSON an object was read as, kept beside its typed fields so that an update sends
/// back every field, including those these types do not model.
///
/// It never takes part in coding: the overloads below make synthesized `Codable` skip it,
/// and the client fills it in after reading.
public struct Original: Codable, Sendable, Hashable {
    public var json: JSONValue?
    public init(_ json: JSONValue? = nil) { self.json = json }
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
