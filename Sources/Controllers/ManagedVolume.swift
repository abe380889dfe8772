import Foundation
import KubeModel
import StowageAPI
import SyncContract

/// What the reconciler derives from any `ManagedVolume` (StowageAPI).
extension ManagedVolume {
    var namespace: String { metadata.namespace ?? "default" }
    /// What a pull of this spec brings in (`status.pulledSource` after it).
    var pullIdentity: String { PullIdentity.of(source: dataSource, access: accessMode) }
    var childLabels: [String: String] {
        [StowageKeys.managedBy: StowageKeys.managedByValue, Self.ownerLabel: ChildNames.labelValue(metadata.name ?? "")]
    }
}
