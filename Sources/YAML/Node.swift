/// A position in a YAML document, 1-based as editors show it.
public struct Mark: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "line \(line), column \(column)" }
}

/// A parsed YAML node: the value tree libyaml's events describe, with aliases resolved and
/// every node remembering where it started so errors can point at it.
public indirect enum YAMLNode: Sendable, Hashable {
    case scalar(Scalar)
    case sequence([YAMLNode], Mark)
    case mapping([Pair], Mark)

    public struct Scalar: Sendable, Hashable {
        public var value: String
        public var style: Style
        /// An explicit tag such as `!!str`, in its full form (`tag:yaml.org,2002:str`).
        public var tag: String?
        public var mark: Mark

        public enum Style: Sendable, Hashable {
            case plain, singleQuoted, doubleQuoted, literal, folded
        }

        public init(_ value: String, style: Style = .plain, tag: String? = nil, mark: Mark = Mark(line: 0, column: 0)) {
            self.value = value
            self.style = style
            self.tag = tag
            self.mark = mark
        }

        /// Plain scalars are typed by their text (YAML 1.1, as Kubernetes users write it);
        /// quoted and block scalars, and `!!str`, are always strings.
        public var isPlain: Bool { style == .plain && (tag == nil || tag == "!") }
    }

    public struct Pair: Sendable, Hashable {
        public var key: YAMLNode
        public var value: YAMLNode

        public init(key: YAMLNode, value: YAMLNode) {
            self.key = key
            self.value = value
        }
    }

    public var mark: Mark {
        switch self {
        case .scalar(let s): s.mark
        case .sequence(_, let m), .mapping(_, let m): m
        }
    }

    /// The scalar's text, if this is a scalar.
    public var scalarValue: String? {
        if case .scalar(let s) = self { return s.value }
        return nil
    }

    /// The value for a string key of a mapping (the last one wins if repeated).
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs, _) = self else { return nil }
        return pairs.last(where: { $0.key.scalarValue == key })?.value
    }

    /// The elements of a sequence.
    public var sequenceElements: [YAMLNode]? {
        if case .sequence(let items, _) = self { return items }
        return nil
    }

    /// True for `null`, `~`, an empty plain scalar, or `!!null`.
    public var isNull: Bool {
        guard case .scalar(let s) = self else { return false }
        return s.resolved == .null
    }
}
