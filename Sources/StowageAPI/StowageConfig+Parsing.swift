import KubeModel
import SyncContract
import YAML

/// Why an access-level configuration was refused: the line and column of the offending node,
/// the path to it, and what is wrong.
///
/// `line 7, column 12: levels.private.read[0]: unknown rule "memebers" (expected *, ...)`
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    /// `levels.private.read[0]`; nil for YAML syntax errors.
    public var path: String?
    public var message: String

    public init(line: Int, column: Int, path: String?, message: String) {
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    init(_ node: YAMLNode, _ path: String, _ message: String) {
        self.init(line: node.mark.line, column: node.mark.column, path: path.isEmpty ? nil : path, message: message)
    }

    public var description: String {
        "line \(line), column \(column): " + (path.map { "\($0): " } ?? "") + message
    }
}

extension StowageConfig {
    /// Parses the `config.yaml` text of the ConfigMap. Unknown keys, duplicate keys, wrong
    /// types, unknown rules and invalid homes settings are errors, so a typo never silently
    /// widens or narrows access. An empty document is `StowageConfig.empty`.
    public static func parse(yaml: String) throws(ConfigError) -> StowageConfig {
        let root: YAMLNode
        do {
            root = try YAMLParser().parseDocument(yaml)
        } catch {
            throw ConfigError(line: error.mark?.line ?? 1, column: error.mark?.column ?? 1, path: nil, message: error.message)
        }
        let top = try Reader.mapping(root, "", allowed: ["groups", "levels", "homes", "spawners"])
        var config = StowageConfig()
        if let groups = top["groups"] {
            for (name, node) in try Reader.mapping(groups, "groups") {
                config.groups[name.text] = Set(try Reader.strings(node, "groups.\(name.text)").map(\.text))
            }
        }
        if let levels = top["levels"] {
            for (name, node) in try Reader.mapping(levels, "levels") {
                config.levels[name.text] = try level(node, "levels.\(name.text)")
            }
        }
        if let homes = top["homes"] { config.homes = try homesConfig(homes, "homes") }
        if let spawners = top["spawners"] {
            let path = "spawners"
            let m = try Reader.mapping(spawners, path, allowed: ["trusted", "userAnnotation", "groupsAnnotation"])
            if let n = m["trusted"] { config.spawners.trusted = try Reader.strings(n, path + ".trusted").map(\.text) }
            if let n = m["userAnnotation"] { config.spawners.userAnnotation = try Reader.string(n, path + ".userAnnotation") }
            if let n = m["groupsAnnotation"] { config.spawners.groupsAnnotation = try Reader.string(n, path + ".groupsAnnotation") }
        }
        return config
    }

    private static func level(_ node: YAMLNode, _ path: String) throws(ConfigError) -> AccessLevel {
        let m = try Reader.mapping(node, path, allowed: ["read", "write", "sync"])
        var level = AccessLevel()
        func rules(_ key: String) throws(ConfigError) -> [AccessRule] {
            guard let list = m[key] else { return [] }
            var rules: [AccessRule] = []
            for (i, item) in try Reader.strings(list, "\(path).\(key)").enumerated() {
                guard let rule = AccessRule(parsing: item.text) else {
                    throw ConfigError(item.node, "\(path).\(key)[\(i)]", "unknown rule \"\(item.text)\" (expected \(AccessRule.grammar))")
                }
                rules.append(rule)
            }
            return rules
        }
        level.read = try rules("read")
        level.write = try rules("write")
        if let sync = m["sync"] { level.sync = try Reader.bool(sync, path + ".sync") }
        return level
    }

    private static func homesConfig(_ node: YAMLNode, _ path: String) throws(ConfigError) -> HomesConfig {
        let m = try Reader.mapping(node, path, allowed: ["enabled", "size", "storageClassName", "mountPath", "access", "source"])
        var homes = HomesConfig()
        if let n = m["enabled"] { homes.enabled = try Reader.bool(n, path + ".enabled") }
        if let n = m["size"] {
            homes.size = try Reader.string(n, path + ".size")
            var v = Validator()
            v.size(homes.size, at: path + ".size")
            if let e = v.errors.first { throw ConfigError(n, e.field, e.message) }
        }
        if let n = m["storageClassName"] { homes.storageClassName = try Reader.string(n, path + ".storageClassName") }
        if let n = m["mountPath"] {
            homes.mountPath = try Reader.string(n, path + ".mountPath")
            var v = Validator()
            v.mount(Mount(path: homes.mountPath), at: path)
            if let e = v.errors.first { throw ConfigError(n, path + ".mountPath", e.message) }
        }
        if let n = m["access"] {
            let text = try Reader.string(n, path + ".access")
            guard let access = AccessMode(rawValue: text) else {
                throw ConfigError(n, path + ".access", "unknown access \"\(text)\" (expected RO, RW or RWD)")
            }
            homes.access = access
        }
        if let n = m["source"] {
            let source = try dataSource(n, path + ".source")
            var v = Validator()
            v.source(source, at: path + ".source")
            if let e = v.errors.first { throw ConfigError(Reader.node(in: node, at: e.field, under: path), e.field, e.message) }
            homes.source = source
            if let s3 = source.s3, !(s3.prefix ?? "").contains(HomesConfig.placeholder) {
                let s3Node = n["s3"] ?? n
                throw ConfigError(s3Node["prefix"] ?? s3Node, path + ".source.s3.prefix",
                                  "must contain \(HomesConfig.placeholder), or every user would share one home")
            }
        }
        if homes.access == .readWriteDelete && homes.source == nil {
            throw ConfigError(m["access"] ?? node, path + ".access", "RWD requires a source")
        }
        return homes
    }

    private static func dataSource(_ node: YAMLNode, _ path: String) throws(ConfigError) -> DataSource {
        let m = try Reader.mapping(node, path, allowed: ["s3"])
        guard let s3Node = m["s3"] else { throw ConfigError(node, path, "must set exactly one provider (s3)") }
        let p = path + ".s3"
        let s3 = try Reader.mapping(s3Node, p, allowed: ["endpoint", "region", "bucket", "prefix", "credentialsSecretRef", "caBundleSecretRef", "pathStyle", "partChecksum"])
        func required(_ key: String) throws(ConfigError) -> YAMLNode {
            guard let n = s3[key] else { throw ConfigError(s3Node, p, "missing required key \"\(key)\"") }
            return n
        }
        let credentials = try Reader.mapping(try required("credentialsSecretRef"), p + ".credentialsSecretRef", allowed: ["name"])
        guard let credentialsName = credentials["name"] else {
            throw ConfigError(try required("credentialsSecretRef"), p + ".credentialsSecretRef", "missing required key \"name\"")
        }
        var source = S3Source(
            endpoint: try Reader.string(try required("endpoint"), p + ".endpoint"),
            bucket: try Reader.string(try required("bucket"), p + ".bucket"),
            credentialsSecretRef: .init(name: try Reader.string(credentialsName, p + ".credentialsSecretRef.name")))
        if let n = s3["region"] { source.region = try Reader.string(n, p + ".region") }
        if let n = s3["prefix"] { source.prefix = try Reader.string(n, p + ".prefix") }
        if let n = s3["pathStyle"] { source.pathStyle = try Reader.bool(n, p + ".pathStyle") }
        if let n = s3["partChecksum"] {
            let text = try Reader.string(n, p + ".partChecksum")
            guard let checksum = S3PartChecksum(rawValue: text) else {
                throw ConfigError(n, p + ".partChecksum", "unknown part checksum \"\(text)\" (expected crc32c or md5)")
            }
            source.partChecksum = checksum
        }
        if let n = s3["caBundleSecretRef"] {
            let ca = try Reader.mapping(n, p + ".caBundleSecretRef", allowed: ["name", "key"])
            guard let name = ca["name"], let key = ca["key"] else {
                throw ConfigError(n, p + ".caBundleSecretRef", "needs both name and key")
            }
            source.caBundleSecretRef = .init(name: try Reader.string(name, p + ".caBundleSecretRef.name"),
                                             key: try Reader.string(key, p + ".caBundleSecretRef.key"))
        }
        return DataSource(s3: source)
    }
}

/// Typed reads of YAML nodes that fail with a `ConfigError` at the node.
private enum Reader {
    struct Item {
        let text: String
        let node: YAMLNode
    }

    /// A mapping's entries by key (null reads as empty); unknown and duplicate keys are errors.
    static func mapping(_ node: YAMLNode, _ path: String, allowed: [String]? = nil) throws(ConfigError) -> OrderedEntries {
        if node.isNull { return OrderedEntries(entries: []) }
        guard case .mapping(let pairs, _) = node else { throw ConfigError(node, path, "expected a mapping, found \(kind(node))") }
        var entries: [(Item, YAMLNode)] = []
        var seen = Set<String>()
        for pair in pairs {
            guard case .scalar(let key) = pair.key, !key.value.isEmpty else {
                throw ConfigError(pair.key, path, "keys must be non-empty strings")
            }
            guard seen.insert(key.value).inserted else { throw ConfigError(pair.key, path, "duplicate key \"\(key.value)\"") }
            if let allowed, !allowed.contains(key.value) {
                throw ConfigError(pair.key, path, "unknown key \"\(key.value)\" (expected \(allowed.joined(separator: ", ")))")
            }
            entries.append((Item(text: key.value, node: pair.key), pair.value))
        }
        return OrderedEntries(entries: entries)
    }

    static func string(_ node: YAMLNode, _ path: String) throws(ConfigError) -> String {
        guard case .scalar(let s) = node, !node.isNull || !s.isPlain else {
            throw ConfigError(node, path, "expected a string, found \(kind(node))")
        }
        return s.value
    }

    static func bool(_ node: YAMLNode, _ path: String) throws(ConfigError) -> Bool {
        guard case .scalar(let s) = node, case .bool(let b) = s.resolved else {
            throw ConfigError(node, path, "expected true or false, found \(kind(node))")
        }
        return b
    }

    /// A list of strings (null reads as empty).
    static func strings(_ node: YAMLNode, _ path: String) throws(ConfigError) -> [Item] {
        if node.isNull { return [] }
        guard case .sequence(let items, _) = node else { throw ConfigError(node, path, "expected a list, found \(kind(node))") }
        var out: [Item] = []
        for (i, item) in items.enumerated() {
            out.append(Item(text: try string(item, "\(path)[\(i)]"), node: item))
        }
        return out
    }

    /// The node a dotted field path (relative to `base`, which `node` is) leads to, or the
    /// deepest one found, for placing errors found after decoding.
    static func node(in node: YAMLNode, at field: String, under base: String) -> YAMLNode {
        var current = node
        let relative = field.hasPrefix(base + ".") ? String(field.dropFirst(base.count + 1)) : field
        for key in relative.split(separator: ".") {
            guard let next = current[String(key)] else { return current }
            current = next
        }
        return current
    }

    static func kind(_ node: YAMLNode) -> String {
        switch node {
        case .scalar(let s): s.resolved == .null ? "null" : "\"\(s.value)\""
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

/// A mapping's entries in document order, with lookup by key.
private struct OrderedEntries: Sequence {
    let entries: [(Reader.Item, YAMLNode)]
    subscript(key: String) -> YAMLNode? { entries.first { $0.0.text == key }?.1 }
    func makeIterator() -> IndexingIterator<[(Reader.Item, YAMLNode)]> { entries.makeIterator() }
}
