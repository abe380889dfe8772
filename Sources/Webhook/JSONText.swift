import KubeModel

/// Writes the mutating webhook's JSON patches directly (with `JSONValue.write`): through
/// `JSONEncoder` they cost more than deciding the whole admission.
enum JSONText {
    static func encode(_ patch: [JSONPatchOperation]) -> String {
        var out = ""
        out.reserveCapacity(256 * patch.count)
        out += "["
        for (i, operation) in patch.enumerated() {
            if i > 0 { out += "," }
            out += "{\"op\":"
            JSONValue.write(string: operation.op.rawValue, to: &out)
            out += ",\"path\":"
            JSONValue.write(string: operation.path, to: &out)
            if let value = operation.value {
                out += ",\"value\":"
                JSONValue.write(value, to: &out)
            }
            out += "}"
        }
        out += "]"
        return out
    }
}
