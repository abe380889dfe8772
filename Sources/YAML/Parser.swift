import CYAML

/// Turns YAML text into `YAMLNode` trees by driving libyaml's event parser.
///
/// Aliases are expanded into copies of their anchored node (sharing storage, so memory stays
/// small), `<<` merge keys are applied, and two limits keep hostile input from exhausting the
/// process: nesting depth and the expanded node count.
public struct YAMLParser: Sendable {
    /// Deeper nesting is refused: deep trees would overflow the stack when walked or freed.
    public var maxDepth = 256
    /// Expanded node count above which a stream is refused (alias bombs).
    public var maxNodes = 2_000_000

    /// libyaml's version, for diagnostics.
    public static var libraryVersion: String { String(cString: yaml_get_version_string()) }

    public init() {}

    /// Every document of a `---`-separated stream, in order. An empty stream gives `[]`.
    public func parseStream(_ text: String) throws(YAMLError) -> [YAMLNode] {
        try parseStream(Array(text.utf8))
    }

    /// Every document of a stream given as bytes (UTF-8, or UTF-16 with a byte-order mark).
    public func parseStream(_ bytes: [UInt8]) throws(YAMLError) -> [YAMLNode] {
        var builder = TreeBuilder(maxDepth: maxDepth, maxNodes: maxNodes)
        let result: Result<Void, YAMLError> = bytes.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                return .failure(YAMLError(.syntax, "libyaml could not initialise a parser", mark: nil))
            }
            defer { yaml_parser_delete(&parser) }
            // libyaml reads from the pointer lazily: the buffer outlives the parser here.
            yaml_parser_set_input_string(&parser, buffer.baseAddress ?? UnsafePointer(bitPattern: 1), buffer.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    return .failure(Self.error(from: parser, input: buffer))
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return .success(()) }
                do throws(YAMLError) { try builder.handle(event) } catch { return .failure(error) }
            }
        }
        try result.get()
        return builder.documents
    }

    /// Exactly one document; an empty stream is a null scalar, more than one is an error.
    public func parseDocument(_ text: String) throws(YAMLError) -> YAMLNode {
        let documents = try parseStream(text)
        guard documents.count <= 1 else {
            throw YAMLError(.syntax, "expected one document but found \(documents.count)", mark: documents[1].mark)
        }
        return documents.first ?? .scalar(.init("", mark: Mark(line: 1, column: 1)))
    }

    private static func error(from parser: yaml_parser_t, input: UnsafeBufferPointer<UInt8>) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) }
        let message = context.map { "\(problem) \($0)" } ?? problem
        if parser.error == YAML_READER_ERROR {
            // Reader errors (bad encoding) carry a byte offset rather than a mark.
            return YAMLError(.syntax, message, mark: mark(ofOffset: parser.problem_offset, in: input))
        }
        let m = parser.problem_mark
        return YAMLError(.syntax, message, mark: Mark(line: Int(m.line) + 1, column: Int(m.column) + 1))
    }

    private static func mark(ofOffset offset: Int, in input: UnsafeBufferPointer<UInt8>) -> Mark {
        var line = 1, column = 1
        for byte in input.prefix(offset) {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return Mark(line: line, column: column)
    }
}

/// Assembles nodes from the event sequence with an explicit stack (no recursion).
private struct TreeBuilder {
    let maxDepth: Int
    let maxNodes: Int
    var documents: [YAMLNode] = []

    private enum Frame {
        case sequence(items: [YAMLNode], mark: Mark, anchor: String?, size: Int)
        case mapping(pairs: [YAMLNode.Pair], pendingKey: YAMLNode?, mark: Mark, anchor: String?, size: Int)
    }

    private var stack: [Frame] = []
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]

    init(maxDepth: Int, maxNodes: Int) {
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
    }

    mutating func handle(_ event: yaml_event_t) throws(YAMLError) {
        let mark = Mark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            anchors.removeAll()
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
            let style: YAMLNode.Scalar.Style = switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: .literal
            case YAML_FOLDED_SCALAR_STYLE: .folded
            default: .plain
            }
            let tag = s.tag.map { String(cString: $0) }
            let node = YAMLNode.scalar(.init(value, style: style, tag: tag, mark: mark))
            try complete(node, size: 1, anchor: s.anchor.map { String(cString: $0) }, mark: mark)
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let anchored = anchors[name] else {
                throw YAMLError(.undefinedAlias, "alias *\(name) refers to no anchor", mark: mark)
            }
            try complete(anchored.node, size: anchored.size, anchor: nil, mark: mark)
        case YAML_SEQUENCE_START_EVENT:
            try push(.sequence(items: [], mark: mark, anchor: event.data.sequence_start.anchor.map { String(cString: $0) }, size: 1), mark: mark)
        case YAML_MAPPING_START_EVENT:
            try push(.mapping(pairs: [], pendingKey: nil, mark: mark, anchor: event.data.mapping_start.anchor.map { String(cString: $0) }, size: 1), mark: mark)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            switch stack.removeLast() {
            case .sequence(let items, let start, let anchor, let size):
                try complete(.sequence(items, start), size: size, anchor: anchor, mark: start)
            case .mapping(let pairs, _, let start, let anchor, let size):
                try complete(.mapping(try Self.applyMergeKeys(pairs), start), size: size, anchor: anchor, mark: start)
            }
        default:
            break
        }
    }

    private mutating func push(_ frame: Frame, mark: Mark) throws(YAMLError) {
        guard stack.count < maxDepth else {
            throw YAMLError(.tooDeep, "nesting deeper than \(maxDepth) levels", mark: mark)
        }
        stack.append(frame)
    }

    private mutating func complete(_ node: YAMLNode, size: Int, anchor: String?, mark: Mark) throws(YAMLError) {
        if let anchor { anchors[anchor] = (node, size) }
        guard let top = stack.popLast() else {
            documents.append(node)
            return
        }
        switch top {
        case .sequence(var items, let m, let a, let s):
            items.append(node)
            stack.append(.sequence(items: items, mark: m, anchor: a, size: try add(s, size, mark)))
        case .mapping(var pairs, let key, let m, let a, let s):
            if let key {
                pairs.append(.init(key: key, value: node))
                stack.append(.mapping(pairs: pairs, pendingKey: nil, mark: m, anchor: a, size: try add(s, size, mark)))
            } else {
                stack.append(.mapping(pairs: pairs, pendingKey: node, mark: m, anchor: a, size: try add(s, size, mark)))
            }
        }
    }

    private func add(_ a: Int, _ b: Int, _ mark: Mark) throws(YAMLError) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow, sum <= maxNodes else {
            throw YAMLError(.tooLarge, "document expands to more than \(maxNodes) nodes through aliases", mark: mark)
        }
        return sum
    }

    /// YAML 1.1 merge keys: `<<: *base` or `<<: [*a, *b]` add the keys the mapping lacks.
    private static func applyMergeKeys(_ pairs: [YAMLNode.Pair]) throws(YAMLError) -> [YAMLNode.Pair] {
        guard pairs.contains(where: isMergeKey) else { return pairs }
        var own = pairs.filter { !isMergeKey($0) }
        var seen = Set(own.compactMap(\.key.scalarValue))
        for pair in pairs where isMergeKey(pair) {
            let sources: [YAMLNode]
            switch pair.value {
            case .mapping: sources = [pair.value]
            case .sequence(let items, _): sources = items
            default: throw YAMLError(.syntax, "a merge key (<<) needs a mapping or a list of mappings", mark: pair.value.mark)
            }
            for source in sources {
                guard case .mapping(let merged, _) = source else {
                    throw YAMLError(.syntax, "a merge key (<<) needs a mapping or a list of mappings", mark: source.mark)
                }
                for p in merged {
                    if let key = p.key.scalarValue {
                        guard seen.insert(key).inserted else { continue }
                    }
                    own.append(p)
                }
            }
        }
        return own
    }

    private static func isMergeKey(_ pair: YAMLNode.Pair) -> Bool {
        if case .scalar(let s) = pair.key { return s.value == "<<" && s.style == .plain }
        return false
    }
}
