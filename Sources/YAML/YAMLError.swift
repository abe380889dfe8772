/// Why a YAML document could not be read, and where.
///
/// A struct wrapping a `Code` so new kinds of failure can be added without breaking callers.
public struct YAMLError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case syntax, undefinedAlias, tooDeep, tooLarge, typeMismatch, missingKey, invalidValue
        }
        fileprivate let base: Base

        /// libyaml rejected the text.
        public static let syntax = Code(base: .syntax)
        /// `*name` with no `&name` before it.
        public static let undefinedAlias = Code(base: .undefinedAlias)
        /// Nesting beyond `YAMLParser.maxDepth`.
        public static let tooDeep = Code(base: .tooDeep)
        /// Aliases expand beyond `YAMLParser.maxNodes` (the "billion laughs" guard).
        public static let tooLarge = Code(base: .tooLarge)
        /// A node has the wrong shape for the type being decoded.
        public static let typeMismatch = Code(base: .typeMismatch)
        /// A required key is absent.
        public static let missingKey = Code(base: .missingKey)
        /// A value has the right shape but is not acceptable.
        public static let invalidValue = Code(base: .invalidValue)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    /// Where the problem is; nil only when the input ended before anything was read.
    public var mark: Mark?
    /// The field path for decoding errors, such as `spec.members[2].access`.
    public var path: String?

    public init(_ code: Code, _ message: String, mark: Mark?, path: String? = nil) {
        self.code = code
        self.message = message
        self.mark = mark
        self.path = path
    }

    public var description: String {
        var parts: [String] = []
        if let mark { parts.append("\(mark)") }
        if let path, !path.isEmpty { parts.append("field \(path)") }
        let location = parts.isEmpty ? "" : parts.joined(separator: ", ") + ": "
        return location + message
    }
}
