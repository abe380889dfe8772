import KubeModel
import Synchronization

/// The access-level configuration in force: the last valid `config.yaml` of the admin's
/// ConfigMap. An invalid edit never replaces it; it produces a Warning event on the
/// ConfigMap naming the line and column of the error, and the previous levels keep working.
/// Valid edits take effect at once, without a restart.
///
/// Here, below the operator and the webhook, which both hold one; reading the ConfigMap and
/// reporting what taking it did are the operator's (Controllers' `ConfigHolder.controller`).
public final class ConfigHolder: Sendable {
    public let namespace: String
    public let name: String
    private let state = Mutex<State>(State())
    private let listeners = Mutex<[@Sendable () async -> Void]>([])

    struct State {
        var config = StowageConfig.empty
        /// The ConfigMap `resourceVersion` last read, valid or not.
        var seen: String?
        var lastError: ConfigError?
    }

    public init(namespace: String, name: String = StowageConfig.configMapName, initial: StowageConfig = .empty) {
        self.namespace = namespace
        self.name = name
        state.withLock { $0.config = initial }
    }

    public var current: StowageConfig { state.withLock { $0.config } }
    /// The error of the newest ConfigMap version, when it was refused.
    public var lastError: ConfigError? { state.withLock { $0.lastError } }

    /// Runs `body` after every change of the configuration in force.
    public func onChange(_ body: @escaping @Sendable () async -> Void) {
        listeners.withLock { $0.append(body) }
    }

    public enum Outcome: Equatable, Sendable {
        case unchanged
        case applied
        case refused(ConfigError)
    }

    /// Takes a version of the ConfigMap. Pure apart from the held state: parsing decides,
    /// and an error keeps the configuration in force.
    @discardableResult
    public func take(_ configMap: ConfigMap) -> Outcome {
        let version = configMap.metadata.resourceVersion
        let text = configMap.data?[StowageConfig.configMapKey] ?? ""
        let parsed = Result { () throws(ConfigError) in try StowageConfig.parse(yaml: text) }
        return state.withLock { s in
            if version != nil && version == s.seen { return .unchanged }
            s.seen = version
            switch parsed {
            case .success(let config):
                s.lastError = nil
                guard config != s.config else { return .unchanged }
                s.config = config
                return .applied
            case .failure(let error):
                s.lastError = error
                return .refused(error)
            }
        }
    }

    /// Runs the `onChange` listeners (after a change was applied and reported).
    public func changed() async {
        for listener in listeners.withLock({ $0 }) { await listener() }
    }
}
