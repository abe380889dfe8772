import KubeModel

/// Writes JSON text for `JSONValue` and patch operations directly: the mutating webhook's
/// patches are built from `JSONValue`s, and encoding them through `JSONEncoder` costs more
/// than deciding the whole admission (generic `Codable` recursion per node).
enum JSONText {
    static func encode(_ patch: [JSONPatchOperation]) -> String {
        var out = ""
        out.reserveCapacity(256 * patch.count)
        out += "["
        for (i, operation) in patch.enumerated() {
            if i > 0 { out += "," }
            out += "{\"op\":"
            write(operation.op.rawValue, to: &out)
            out += ",\"path\":"
            write(operation.path, to: &out)
            if let value = operation.value {
                out += ",\"value\":"
                write(value, to: &out)
            }
            out += "}"
        }
        out += "]"
        return out
    }

    static func encode(_ value: JSONValue) -> String {
        var out = ""
        write(value, to: &out)
        return out
    }

    /// Object keys are written sorted, as `JSONEncoder.kube` does, so output is stable.
    static func write(_ value: JSONValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n):
            if n.rounded() == n, abs(n) < 1e15 { out += String(Int64(n)) } else if n.isFinite { out += "\(n)" } else { out += "null" }
        case .string(let s): write(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                write(key, to: &out)
                out += ":"
                write(members[key] ?? .null, to: &out)
            }
            out += "}"
        }
    }

    static func write(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
