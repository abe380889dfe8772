import KubeModel

/// One operation of a mutation's JSON Patch as `PatchBuilder` makes it: what it adds, kept
/// as the few strings it is made of rather than as a `JSONValue` tree. Written straight to
/// JSON text (`write(to:)`), in the bytes `JSONText.bytes` writes for the same operation as
/// a tree (`operation`, members in key order): building and sorting those trees was more
/// than a third of a mutation's instructions.
struct PatchStep: Sendable, Hashable {
    var op: JSONPatchOperation.Op
    /// An RFC 6901 pointer; with `appends`, the pointer to an array, the step adding at its end
    /// (`path` + `/-`).
    var path: String
    var appends = false
    var value: PatchValue?

    static func add(_ path: String, _ value: PatchValue) -> PatchStep { PatchStep(op: .add, path: path, value: value) }
    static func append(to path: String, _ value: PatchValue) -> PatchStep { PatchStep(op: .add, path: path, appends: true, value: value) }
    static func remove(_ path: String) -> PatchStep { PatchStep(op: .remove, path: path) }

    /// The operation as a value tree: what tests and `MutationResult.patch` read.
    var operation: JSONPatchOperation {
        JSONPatchOperation(op, appends ? path + "/-" : path, value?.tree)
    }

    /// Appends the operation's JSON text (`{"op":...,"path":...,"value":...}`).
    func write(to out: inout [UInt8]) {
        JSONValue.append("{\"op\":", to: &out)
        JSONValue.write(string: op.rawValue, to: &out)
        JSONValue.append(",\"path\":", to: &out)
        JSONValue.write(string: path, to: &out)
        if appends {
            // `/-` inside the string: the closing quote goes after it.
            out.removeLast()
            JSONValue.append("/-\"", to: &out)
        }
        if let value {
            JSONValue.append(",\"value\":", to: &out)
            value.write(to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

/// The values a mutation's patch adds.
indirect enum PatchValue: Sendable, Hashable {
    case string(String)
    /// A pod volume backed by a claim.
    case volume(name: String, claim: String, readOnly: Bool)
    case mount(name: String, path: String, readOnly: Bool)
    /// A container's environment variable with a plain value.
    case variable(name: String, value: String)
    /// String annotations, written in key order.
    case annotations([String: String])
    /// The `stowage-wait` init container.
    case waitContainer(WaitContainer)
    case array([PatchValue])

    struct WaitContainer: Sendable, Hashable {
        var image: String
        var command: String
        var args: [String]
        /// The volumes it mounts read-only: pod volume name and mount path.
        var mounts: [Mount]

        struct Mount: Sendable, Hashable {
            var name: String
            var path: String
        }
    }

    /// The value as a tree, as the mutator built it before it wrote text directly.
    var tree: JSONValue {
        switch self {
        case .string(let s):
            return .string(s)
        case .volume(let name, let claim, let readOnly):
            let source: [String: JSONValue] = readOnly ? ["claimName": .string(claim), "readOnly": true] : ["claimName": .string(claim)]
            return .object(["name": .string(name), "persistentVolumeClaim": .object(source)])
        case .mount(let name, let path, let readOnly):
            let (n, p) = (JSONValue.string(name), JSONValue.string(path))
            return .object(readOnly ? ["name": n, "mountPath": p, "readOnly": true] : ["name": n, "mountPath": p])
        case .variable(let name, let value):
            return ["name": .string(name), "value": .string(value)]
        case .annotations(let map):
            return .object(map.mapValues(JSONValue.string))
        case .waitContainer(let c):
            return [
                "name": .string(PodMutator.waitContainerName),
                "image": .string(c.image),
                "command": [.string(c.command)],
                "args": .array(c.args.map(JSONValue.string)),
                "volumeMounts": .array(c.mounts.map { PatchValue.mount(name: $0.name, path: $0.path, readOnly: true).tree }),
                "resources": Self.waitResources,
                "securityContext": Self.waitSecurityContext,
            ]
        case .array(let items):
            return .array(items.map(\.tree))
        }
    }

    /// Appends the value's JSON text: `tree`'s text (`JSONValue.write`), members in key order.
    func write(to out: inout [UInt8]) {
        switch self {
        case .string(let s):
            JSONValue.write(string: s, to: &out)
        case .volume(let name, let claim, let readOnly):
            JSONValue.append("{\"name\":", to: &out)
            JSONValue.write(string: name, to: &out)
            JSONValue.append(",\"persistentVolumeClaim\":{\"claimName\":", to: &out)
            JSONValue.write(string: claim, to: &out)
            JSONValue.append(readOnly ? ",\"readOnly\":true}}" : "}}", to: &out)
        case .mount(let name, let path, let readOnly):
            Self.writeMount(name: name, path: path, readOnly: readOnly, to: &out)
        case .variable(let name, let value):
            JSONValue.append("{\"name\":", to: &out)
            JSONValue.write(string: name, to: &out)
            JSONValue.append(",\"value\":", to: &out)
            JSONValue.write(string: value, to: &out)
            out.append(UInt8(ascii: "}"))
        case .annotations(let map):
            out.append(UInt8(ascii: "{"))
            for (i, member) in map.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.write(string: member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONValue.write(string: member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .waitContainer(let c):
            JSONValue.append("{\"args\":[", to: &out)
            for (i, arg) in c.args.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.write(string: arg, to: &out)
            }
            Self.member("],\"command\":[", c.command, to: &out)
            Self.member("],\"image\":", c.image, to: &out)
            Self.member(",\"name\":", PodMutator.waitContainerName, to: &out)
            out += Self.waitConstantsText
            JSONValue.append(",\"volumeMounts\":[", to: &out)
            for (i, mount) in c.mounts.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeMount(name: mount.name, path: mount.path, readOnly: true, to: &out)
            }
            JSONValue.append("]}", to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// `prefix` (the text up to a member's value), then `value` as a JSON string.
    private static func member(_ prefix: StaticString, _ value: String, to out: inout [UInt8]) {
        JSONValue.append(prefix, to: &out)
        JSONValue.write(string: value, to: &out)
    }

    private static func writeMount(name: String, path: String, readOnly: Bool, to out: inout [UInt8]) {
        JSONValue.append("{\"mountPath\":", to: &out)
        JSONValue.write(string: path, to: &out)
        JSONValue.append(",\"name\":", to: &out)
        JSONValue.write(string: name, to: &out)
        JSONValue.append(readOnly ? ",\"readOnly\":true}" : "}", to: &out)
    }

    // The same for every pod: built, and written, once.
    static let waitResources: JSONValue = ["requests": ["cpu": "10m", "memory": "16Mi"], "limits": ["memory": "64Mi"]]
    static let waitSecurityContext: JSONValue = [
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": ["drop": ["ALL"]],
        "seccompProfile": ["type": "RuntimeDefault"],
    ]
    /// `,"resources":...,"securityContext":...`: the members between the name and the mounts.
    private static let waitConstantsText: [UInt8] = {
        var out: [UInt8] = []
        JSONValue.append(",\"resources\":", to: &out)
        JSONValue.write(waitResources, to: &out)
        JSONValue.append(",\"securityContext\":", to: &out)
        JSONValue.write(waitSecurityContext, to: &out)
        return out
    }()
}
