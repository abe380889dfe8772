import KubeModel

/// Writes the mutating webhook's JSON patches directly (with `JSONValue.write`): through
/// `JSONEncoder` they cost more than deciding the whole admission.
enum JSONText {
    static func encode(_ patch: [JSONPatchOperation]) -> String {
        String(decoding: bytes(patch), as: UTF8.self)
    }

    /// The patch as UTF-8 JSON text.
    static func bytes(_ patch: [JSONPatchOperation]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 * patch.count)
        out.append(UInt8(ascii: "["))
        for (i, operation) in patch.enumerated() {
            JSONValue.append(i > 0 ? ",{\"op\":" : "{\"op\":", to: &out)
            JSONValue.write(string: operation.op.rawValue, to: &out)
            JSONValue.append(",\"path\":", to: &out)
            JSONValue.write(string: operation.path, to: &out)
            if let value = operation.value {
                JSONValue.append(",\"value\":", to: &out)
                JSONValue.write(value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
}

extension ReviewReply {
    /// The review as JSON text, written directly (fields in declaration order, nil ones left
    /// out, as `JSONEncoder` writes them): a `JSONEncoder` per answer cost more than
    /// deciding most reviews.
    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + (response.patch?.utf8.count ?? 0) + (response.status?.message.utf8.count ?? 0))
        JSONValue.append("{\"apiVersion\":", to: &out)
        JSONValue.write(string: apiVersion, to: &out)
        JSONValue.append(",\"kind\":", to: &out)
        JSONValue.write(string: kind, to: &out)
        JSONValue.append(",\"response\":{\"uid\":", to: &out)
        JSONValue.write(string: response.uid, to: &out)
        JSONValue.append(response.allowed ? ",\"allowed\":true" : ",\"allowed\":false", to: &out)
        if let status = response.status {
            JSONValue.append(",\"status\":{\"status\":", to: &out)
            JSONValue.write(string: status.status, to: &out)
            JSONValue.append(",\"code\":", to: &out)
            out += String(status.code).utf8
            JSONValue.append(",\"reason\":", to: &out)
            JSONValue.write(string: status.reason, to: &out)
            JSONValue.append(",\"message\":", to: &out)
            JSONValue.write(string: status.message, to: &out)
            if let details = status.details {
                JSONValue.append(",\"details\":{", to: &out)
                if let name = details.name {
                    JSONValue.append("\"name\":", to: &out)
                    JSONValue.write(string: name, to: &out)
                    JSONValue.append(",", to: &out)
                }
                if let kind = details.kind {
                    JSONValue.append("\"kind\":", to: &out)
                    JSONValue.write(string: kind, to: &out)
                    JSONValue.append(",", to: &out)
                }
                JSONValue.append("\"causes\":[", to: &out)
                for (i, cause) in details.causes.enumerated() {
                    JSONValue.append(i > 0 ? ",{\"reason\":" : "{\"reason\":", to: &out)
                    JSONValue.write(string: cause.reason, to: &out)
                    JSONValue.append(",\"field\":", to: &out)
                    JSONValue.write(string: cause.field, to: &out)
                    JSONValue.append(",\"message\":", to: &out)
                    JSONValue.write(string: cause.message, to: &out)
                    JSONValue.append("}", to: &out)
                }
                JSONValue.append("]}", to: &out)
            }
            JSONValue.append("}", to: &out)
        }
        if let patchType = response.patchType {
            JSONValue.append(",\"patchType\":", to: &out)
            JSONValue.write(string: patchType, to: &out)
        }
        if let patch = response.patch {
            // Base64, which never needs an escape: copied as it is, not scanned.
            JSONValue.append(",\"patch\":\"", to: &out)
            out += patch.utf8
            out.append(UInt8(ascii: "\""))
        }
        if let warnings = response.warnings {
            JSONValue.append(",\"warnings\":[", to: &out)
            for (i, warning) in warnings.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.write(string: warning, to: &out)
            }
            JSONValue.append("]", to: &out)
        }
        JSONValue.append("}}", to: &out)
        return out
    }
}
