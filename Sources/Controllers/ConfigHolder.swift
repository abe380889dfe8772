import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import StowageAPI

/// The operator's side of `ConfigHolder` (StowageAPI): reading the ConfigMap, keeping the
/// configuration current as it changes, and reporting each outcome as an Event.
extension ConfigHolder {
    /// Reads the ConfigMap once (before controllers start, so they never see an empty
    /// configuration when there is a real one), and reports it as the controller would:
    /// the controller then sees this version as already taken.
    public func load(client: KubeClient, events: EventRecorder, logger: Logger) async throws {
        do {
            let configMap = try await client.resource(ConfigMap.self, namespace: namespace).get(name)
            await report(configMap, events: events, logger: logger)
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
            await holder.report(configMap, events: events, logger: logger)
            return .done
        }
    }

    /// Takes `configMap` (unless the webhook's watch took it already) and logs and records an
    /// Event for what is new since the last report (`takeForReport`); listeners run after
    /// every applied change.
    private func report(_ configMap: ConfigMap, events: EventRecorder, logger: Logger) async {
        for outcome in takeForReport(configMap) { await report(outcome, of: configMap, events: events, logger: logger) }
    }

    private func report(_ outcome: Outcome, of configMap: ConfigMap, events: EventRecorder, logger: Logger) async {
        switch outcome {
        case .unchanged:
            break
        case .applied:
            let levels = current.levels.keys.sorted()
            logger.info("access-level configuration applied", metadata: ["levels": "\(levels)"])
            await events.record(configMap, type: .normal, reason: "ConfigApplied",
                                message: "access levels in force: \(levels.joined(separator: ", "))")
            await changed()
        case .refused(let error):
            logger.warning("access-level configuration refused; the previous one stays in force", metadata: ["error": "\(error)"])
            await events.record(configMap, type: .warning, reason: "InvalidConfig",
                                message: "\(StowageConfig.configMapKey) \(error); the previous configuration stays in force")
        }
    }
}
