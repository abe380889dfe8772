/// A Kubernetes label selector (`metav1.LabelSelector`), used by `attachTo.podSelector` to
/// pick the pods a volume is injected into.
public struct LabelSelector: Codable, Sendable, Hashable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [Requirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    public struct Requirement: Codable, Sendable, Hashable {
        public var key: String
        public var `operator`: Operator
        /// Required and non-empty for `In` and `NotIn`; must be empty for the others.
        public var values: [String]?

        public init(key: String, operator: Operator, values: [String]? = nil) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }

        public func matches(labels: [String: String]) -> Bool {
            let value = labels[key]
            switch `operator` {
            case .in: return value.map { (values ?? []).contains($0) } ?? false
            case .notIn: return value.map { !(values ?? []).contains($0) } ?? true
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            }
        }
    }

    public enum Operator: String, Codable, Sendable, Hashable, CaseIterable {
        case `in` = "In"
        case notIn = "NotIn"
        case exists = "Exists"
        case doesNotExist = "DoesNotExist"
    }

    /// Whether `labels` satisfy every term. As in Kubernetes, an empty selector matches
    /// everything; callers that must not attach to every pod check `isEmpty` first.
    public func matches(labels: [String: String]) -> Bool {
        for (key, value) in matchLabels ?? [:] where labels[key] != value { return false }
        return (matchExpressions ?? []).allSatisfy { $0.matches(labels: labels) }
    }

    /// True when the selector has no terms (and so would match every pod).
    public var isEmpty: Bool { (matchLabels ?? [:]).isEmpty && (matchExpressions ?? []).isEmpty }
}
