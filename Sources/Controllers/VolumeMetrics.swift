import Foundation
import KubeRuntime
import StowageAPI
import SyncContract
import Synchronization

/// The per-volume Prometheus series: how each volume's last sync in each direction went,
/// when it last succeeded, and how often its schedule fires; what an admin alerts on, as
/// VolSync's `volsync_volume_out_of_sync`.
///
/// Cardinality is bounded by the volumes: one series per volume and direction (one per
/// volume for the schedule), labelled `namespace`, `name`, `kind` and `direction`. The
/// gauges are set from `status.lastSync` on every pass, so a restarted or newly elected
/// operator exposes what status says (for the direction of the last sync; the other one
/// reappears with its next sync). Only the process that reconciles (the leader) has them:
/// they are removed when the volume is gone and when the reconciler stops.
final class VolumeMetrics: Sendable {
    let registry: MetricsRegistry
    let kind: String
    /// The volumes (`namespace/name`) that have series, for `forgetAll`.
    private let exposed = Mutex<Set<String>>([])

    init(registry: MetricsRegistry, kind: String) {
        self.registry = registry
        self.kind = kind
    }

    static let succeeded = "stowage_volume_last_sync_succeeded"
    static let lastSync = "stowage_volume_last_sync_timestamp_seconds"
    static let lastSuccess = "stowage_volume_last_success_timestamp_seconds"
    static let syncs = "stowage_volume_syncs_total"
    static let failures = "stowage_volume_sync_failures_total"
    static let interval = "stowage_volume_sync_interval_seconds"
    static let perDirection = [succeeded, lastSync, lastSuccess, syncs, failures]

    /// What the pass saw: the last sync's outcome in its direction, and the schedule.
    func observe(namespace: String, name: String, status: VolumeStatus, schedule: CronSchedule?, now: Date) {
        exposed.withLock { _ = $0.insert("\(namespace)/\(name)") }
        if let last = status.lastSync {
            let labels = labels(namespace, name, last.direction)
            let ok = last.result == .succeeded
            registry.gauge(Self.succeeded, help: "1 if the volume's last sync in this direction succeeded, 0 if it failed.",
                           labels: labels).set(ok ? 1 : 0)
            if let end = last.end {
                registry.gauge(Self.lastSync, help: "When the volume's last sync in this direction ended (Unix seconds).",
                               labels: labels).set(end.timeIntervalSince1970)
                if ok {
                    registry.gauge(Self.lastSuccess, help: "When the volume's last successful sync in this direction ended (Unix seconds).",
                                   labels: labels).set(end.timeIntervalSince1970)
                }
            }
        }
        let volume = ["namespace": namespace, "name": name, "kind": kind]
        if let schedule, let first = schedule.next(after: now), let second = schedule.next(after: first) {
            registry.gauge(Self.interval, help: "Seconds between the next two scheduled syncs of the volume (spec.sync.schedule).",
                           labels: volume).set(second.timeIntervalSince(first))
        } else {
            registry.remove(Self.interval, labels: volume)
        }
    }

    /// A sync Job finished and the pass records it (once per Job, unless that pass's status
    /// write is lost and the next pass records it again).
    func finished(namespace: String, name: String, _ record: SyncRecord) {
        exposed.withLock { _ = $0.insert("\(namespace)/\(name)") }
        let labels = labels(namespace, name, record.direction)
        registry.counter(Self.syncs, help: "Finished syncs of the volume in this direction, recorded by this process.",
                         labels: labels).increment()
        registry.counter(Self.failures, help: "Failed syncs of the volume in this direction, recorded by this process.",
                         labels: labels).increment(by: record.result == .failed ? 1 : 0)
    }

    /// The volume is gone (or no longer reconciled here): its series go with it.
    func forget(namespace: String, name: String) {
        exposed.withLock { _ = $0.remove("\(namespace)/\(name)") }
        for direction in SyncDirection.allCases {
            for metric in Self.perDirection { registry.remove(metric, labels: labels(namespace, name, direction)) }
        }
        registry.remove(Self.interval, labels: ["namespace": namespace, "name": name, "kind": kind])
    }

    /// The reconciler stopped (leadership lost, shutdown): another process reports now.
    func forgetAll() {
        for key in exposed.withLock({ $0 }) {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            if parts.count == 2 { forget(namespace: parts[0], name: parts[1]) }
        }
    }

    private func labels(_ namespace: String, _ name: String, _ direction: SyncDirection) -> [String: String] {
        ["namespace": namespace, "name": name, "kind": kind, "direction": direction.rawValue]
    }
}
