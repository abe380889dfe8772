import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import StowageAPI
import Synchronization

/// The access-level configuration in force: the last valid `config.yaml` of the admin's
/// ConfigMap. An invalid edit never replaces it; it produces a Warning event on the
/// ConfigMap naming the line and column of the error, and the previous levels keep working.
/// Valid edits take effect at once, without a restart.
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

    /// Reads the ConfigMap once (before controllers start, so they never see an empty
    /// configuration when there is a real one), and reports it as the controller would:
    /// the controller then sees this version as already taken.
    public func load(client: KubeClient, events: EventRecorder, logger: Logger) async throws {
        do {
            let configMap = try await client.resource(ConfigMap.self, namespace: namespace).get(name)
            await report(take(configMap), of: configMap, events: events, logger: logger)
        } catch let error as KubeClientError where error.apiCode == .notFound {
            logger.info("no access-level ConfigMap; no levels defined", metadata: ["configmap": "\(namespace)/\(name)"])
        }
    }

    /// A controller that keeps the configuration current as the ConfigMap changes.
    public func controller(client: KubeClient, events: EventRecorder, cacheSyncTimeout: Duration = .seconds(120),
                           caches: SharedCaches? = nil, logger: Logger) -> Controller<ConfigMap> {
        let holder = self
        return Controller<ConfigMap>(name: "config", client: client, namespace: namespace, workers: 1, cacheSyncTimeout: cacheSyncTimeout,
                                     caches: caches, logger: logger) { configMap in
            guard configMap.metadata.name == holder.name else { return .done }
            await holder.report(holder.take(configMap), of: configMap, events: events, logger: logger)
            return .done
        }
    }

    /// Logs and records an event for what taking a ConfigMap version did; listeners run
    /// after every applied change.
    private func report(_ outcome: Outcome, of configMap: ConfigMap, events: EventRecorder, logger: Logger) async {
        switch outcome {
        case .unchanged:
            break
        case .applied:
            let levels = current.levels.keys.sorted()
            logger.info("access-level configuration applied", metadata: ["levels": "\(levels)"])
            await events.record(configMap, type: .normal, reason: "ConfigApplied",
                                message: "access levels in force: \(levels.joined(separator: ", "))")
            for listener in listeners.withLock({ $0 }) { await listener() }
        case .refused(let error):
            logger.warning("access-level configuration refused; the previous one stays in force", metadata: ["error": "\(error)"])
            await events.record(configMap, type: .warning, reason: "InvalidConfig",
                                message: "\(StowageConfig.configMapKey) \(error); the previous configuration stays in force")
        }
    }
}
