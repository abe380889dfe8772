import SyncContract

/// The API group and version both Stowage resources are served under.
public enum StowageGroup {
    public static let name = "stowage.io"
    public static let version = "v1alpha1"
    public static let apiVersion = "stowage.io/v1alpha1"
}

/// Annotation, label and finalizer keys Stowage reads and writes, in one place so the
/// controllers, the webhook and the docs agree on them.
public enum StowageKeys {
    /// Annotation on a DataVolume or SharedVolume: set or change its value to request an
    /// intermediate sync; the last handled value is kept in `status.syncRequest`.
    public static let syncNow = "stowage.io/sync-now"
    /// Label on every object the operator creates; its value is `managedByValue`.
    public static let managedBy = "stowage.io/managed-by"
    public static let managedByValue = "stowage"
    /// Label on children (PVC, Job, pods): the DataVolume they belong to.
    public static let dataVolume = "stowage.io/datavolume"
    /// Label on children: the SharedVolume they belong to.
    public static let sharedVolume = "stowage.io/sharedvolume"
    /// Label on sync Jobs and their pods: `pull` or `push`.
    public static let syncDirection = "stowage.io/sync-direction"
    /// Label or annotation naming the (escaped) user an object was made for, e.g. homes.
    public static let user = "stowage.io/user"
    /// Annotation the mutating webhook sets on pods it changed: the volumes it injected.
    public static let injected = "stowage.io/injected"
    /// The finalizer that lets a final sync and the PVC reclaim run before deletion.
    public static let finalizer = "stowage.io/finalizer"
}

/// Condition types on DataVolume and SharedVolume status.
public enum ConditionType {
    /// The volume can be mounted and its data is in place.
    public static let ready = "Ready"
    /// The spec passed validation.
    public static let valid = "Valid"
    /// The PVC exists (created by the operator).
    public static let claimCreated = "ClaimCreated"
    /// The PVC is bound to a volume.
    public static let claimBound = "ClaimBound"
    /// The claim has the size `spec.size` asks for; set once `spec.size` has been changed.
    public static let claimResized = "ClaimResized"
    /// The last sync succeeded and nothing is pending.
    public static let synced = "Synced"
    /// Pods are using the volume.
    public static let inUse = "InUse"
    /// SharedVolume only: `spec.accessLevel` names a level of the access-level ConfigMap.
    public static let accessLevelResolved = "AccessLevelResolved"
}

/// Condition reasons (and Event reasons), CamelCase as Kubernetes expects.
public enum ConditionReason {
    public static let claimCreated = "ClaimCreated"
    public static let claimPending = "ClaimPending"
    public static let claimBound = "ClaimBound"
    /// The claim has grown to `spec.size`.
    public static let resized = "Resized"
    /// The claim was asked to grow; the storage provider has not provided it yet.
    public static let expanding = "Expanding"
    /// The API server refused to grow the claim (its StorageClass has no
    /// `allowVolumeExpansion`, say).
    public static let expansionRefused = "ExpansionRefused"
    /// `spec.size` is smaller than the claim: a claim cannot shrink.
    public static let shrinkRefused = "ShrinkRefused"
    public static let syncRunning = "SyncRunning"
    public static let syncSucceeded = "SyncSucceeded"
    public static let syncFailed = "SyncFailed"
    /// An RWD mirror refused to delete (too many deletions, or an empty local tree).
    public static let deleteGuard = SyncExitCode.guardRefused.reason
    /// A pull found files changed since the previous sync of the same source (event only).
    public static let inputsChanged = "InputsChanged"
    public static let invalidSpec = "InvalidSpec"
    public static let validSpec = "ValidSpec"
    public static let unknownAccessLevel = "UnknownAccessLevel"
    public static let accessLevelFound = "AccessLevelFound"
    /// A level with `sync: false` forbids a source.
    public static let syncForbidden = "SyncForbidden"
    public static let idle = "Idle"
    public static let consumersPresent = "ConsumersPresent"
    public static let noSource = "NoSource"
    public static let ready = "Ready"
    public static let terminating = "Terminating"
}
