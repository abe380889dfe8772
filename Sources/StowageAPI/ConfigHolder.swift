import KubeModel
import Synchronization

/// The access-level configuration in force: the last valid `config.yaml` of the admin's
/// ConfigMap. An invalid edit never replaces it; it produces a Warning event on the
/// ConfigMap naming the line and column of the error, and the previous levels keep working.
/// Valid edits take effect at once, without a restart.
///
/// One per process, below the operator and the webhook: in `stowage operator` the webhook's
/// watch and the config controller both feed the same holder (whichever sees a version
/// first takes it), and the webhook reads it. Reporting, the operator's (Controllers'
/// `ConfigHolder.controller`), is level-based (`takeForReport`), so it does not depend on
/// who took a version first.
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
        /// Refused versions taken so far.
        var refusals = 0
        /// The configuration last reported as applied, and `refusals` when last reported.
        var reportedConfig = StowageConfig.empty
        var reportedRefusals = 0
    }

    public init(namespace: String, name: String = StowageConfig.configMapName, initial: StowageConfig = .empty) {
        self.namespace = namespace
        self.name = name
        state.withLock { s in
            s.config = initial
            s.reportedConfig = initial
        }
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
    /// and an error keeps the configuration in force. A version already taken is
    /// `.unchanged`.
    @discardableResult
    public func take(_ configMap: ConfigMap) -> Outcome {
        let parsed = Self.parse(configMap)
        return state.withLock { Self.take(configMap.metadata.resourceVersion, parsed, into: &$0) }
    }

    /// What the reporter (the leader's config controller) has yet to say, after taking
    /// `configMap` if it is new: `.applied` when the configuration in force differs from the
    /// one it last reported, then `.refused` when the newest version is refused and it has
    /// not said so yet. Whoever took the versions in between (the webhook's watch on the same
    /// holder), each change of the configuration in force is reported once, as is each
    /// refused version that is still the newest when the reporter looks: the level, as a
    /// controller sees it, never every edit.
    public func takeForReport(_ configMap: ConfigMap) -> [Outcome] {
        let parsed = Self.parse(configMap)
        return state.withLock { s in
            _ = Self.take(configMap.metadata.resourceVersion, parsed, into: &s)
            var reports: [Outcome] = []
            if s.config != s.reportedConfig {
                s.reportedConfig = s.config
                reports.append(.applied)
            }
            if let error = s.lastError, s.refusals != s.reportedRefusals {
                s.reportedRefusals = s.refusals
                reports.append(.refused(error))
            }
            return reports
        }
    }

    private static func parse(_ configMap: ConfigMap) -> Result<StowageConfig, ConfigError> {
        let text = configMap.data?[StowageConfig.configMapKey] ?? ""
        return Result { () throws(ConfigError) in try StowageConfig.parse(yaml: text) }
    }

    private static func take(_ version: String?, _ parsed: Result<StowageConfig, ConfigError>, into s: inout State) -> Outcome {
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
            s.refusals += 1
            return .refused(error)
        }
    }

    /// Runs the `onChange` listeners (after a change was applied and reported).
    public func changed() async {
        for listener in listeners.withLock({ $0 }) { await listener() }
    }
}
