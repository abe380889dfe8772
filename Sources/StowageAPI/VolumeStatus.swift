import Foundation
import KubeModel
import SyncContract

/// Where a volume is in its lifecycle (DESIGN.md), the same for DataVolumes and
/// SharedVolumes, since both follow one lifecycle.
public enum VolumePhase: String, Codable, Sendable, Hashable, CaseIterable {
    /// Accepted; the PVC is not yet created.
    case pending = "Pending"
    /// A pull is running before use (the initial one, or a refresh).
    case initializing = "Initializing"
    /// Data in place, no consumers.
    case ready = "Ready"
    /// Pods are using it.
    case inUse = "InUse"
    /// The last consumer left; the final sync is running.
    case finalizing = "Finalizing"
    /// The final sync is done; the PVC is retained, or released, until the next use.
    case idle = "Idle"
    /// Invalid spec, or a sync failed; conditions and events say why.
    case failed = "Failed"
    /// Deleted; the finalizer runs the pending final sync and reclaims the PVC.
    case terminating = "Terminating"
}

/// The status of a DataVolume or SharedVolume, written only by the operator through the
/// status subresource, once per reconcile pass.
public struct VolumeStatus: Codable, Sendable, Hashable {
    public var phase: VolumePhase?
    public var conditions: [Condition]?
    public var claimName: String?
    public var observedGeneration: Int64?
    /// Pods using the volume (`namespace/name`), sorted.
    public var consumers: [String]?
    public var lastSync: SyncRecord?
    /// Set when the last pull found inputs changed since the previous one (Valohai-style).
    public var warning: String?
    /// SharedVolume only: the access level in force.
    public var level: String?

    // Operator bookkeeping: the controller's memory across passes, kept in status so a
    // restarted operator resumes where it left off.

    /// The spec generation whose source was last pulled successfully into the claim; nil
    /// while the claim holds no pulled data (new, or evicted).
    public var pulledGeneration: Int64?
    /// What that pull pulled: a digest of `spec.source` and `spec.access`
    /// (`PullIdentity`). Only a change of these re-pulls; editing `spec.size`, `spec.mount`
    /// or `attachTo` does not.
    public var pulledSource: String?
    /// Changes may exist that have not been pushed (a consumer ran since the last push).
    public var pendingPush: Bool?
    /// When the last consumer left (drives refresh on start and `cache.ttlAfterIdle`).
    public var idleSince: Date?
    /// When the scheduled sync fires next.
    public var nextScheduledSync: Date?
    /// The last handled value of the `stowage.io/sync-now` annotation.
    public var syncRequest: String?
    /// Sync Jobs recorded so far; the next Job is named with this number plus one, so a
    /// pass that crashed after creating a Job finds it again instead of starting another.
    public var syncCount: Int?

    /// The claim's data is gone (evicted, deleted or about to be created): the next use pulls.
    public mutating func forgetPull() {
        pulledGeneration = nil
        pulledSource = nil
    }

    public init(phase: VolumePhase? = nil, conditions: [Condition]? = nil, claimName: String? = nil,
                observedGeneration: Int64? = nil, level: String? = nil) {
        self.phase = phase
        self.conditions = conditions
        self.claimName = claimName
        self.observedGeneration = observedGeneration
        self.level = level
    }
}

public typealias DataVolumeStatus = VolumeStatus
public typealias SharedVolumeStatus = VolumeStatus
public typealias DataVolumePhase = VolumePhase
public typealias SharedVolumePhase = VolumePhase

/// What a pull brings into a claim, as a short digest: `spec.source` (every field, the
/// credentials' Secret name included) and `spec.access`. The operator re-pulls when it
/// differs from `status.pulledSource`; other spec fields change the claim or the pods, not
/// the data.
public enum PullIdentity {
    public static func of(source: DataSource?, access: AccessMode) -> String {
        struct Pulled: Encodable {
            var source: DataSource?
            var access: AccessMode
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let bytes = (try? encoder.encode(Pulled(source: source, access: access))) ?? Data()
        return String(sha256Hex(String(decoding: bytes, as: UTF8.self)).prefix(16))
    }
}
