import KubeModel

/// One RFC 6902 JSON Patch operation, as the mutating webhook returns them.
public struct JSONPatchOperation: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum Op: String, Codable, Sendable, Hashable {
        case add, remove, replace
    }

    public var op: Op
    /// An RFC 6901 JSON pointer (`/spec/volumes/-`).
    public var path: String
    public var value: JSONValue?

    public init(_ op: Op, _ path: String, _ value: JSONValue? = nil) {
        self.op = op
        self.path = path
        self.value = value
    }

    public static func add(_ path: String, _ value: JSONValue) -> JSONPatchOperation { .init(.add, path, value) }
    public static func remove(_ path: String) -> JSONPatchOperation { .init(.remove, path) }

    public var description: String { "\(op.rawValue) \(path)" }

    /// A map key as one JSON pointer segment: `~` is `~0`, `/` is `~1` (RFC 6901), so
    /// `stowage.io/user` is `stowage.io~1user`.
    public static func escape(_ key: String) -> String {
        // Without Foundation's `replacingOccurrences`, which bridges through NSString.
        guard key.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return key }
        // Bytes, then one String: appending scalars to a String cost 400 instructions each.
        var out: [UInt8] = []
        out.reserveCapacity(key.utf8.count + 4)
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.append(UInt8(ascii: "~"))
                out.append(byte == UInt8(ascii: "~") ? UInt8(ascii: "0") : UInt8(ascii: "1"))
            default:
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
