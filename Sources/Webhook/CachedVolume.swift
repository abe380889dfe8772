import KubeModel
import StowageAPI

/// What the webhook reads of one DataVolume or SharedVolume, worked out once when the watch
/// stores it (`Store`'s `derive`) rather than for every pod: its names, its mount path, and
/// what a new consumer waits for. Immutable, so a review holds one reference to it, where a
/// copy of the volume retains each of its strings, arrays and dictionaries: for a notebook
/// pod with a dozen candidate volumes that copying was a fifth of the mutation's cost.
final class CachedVolume<Volume: WebhookVolume>: Sendable {
    /// The volume as the store holds it: its fields are read in place, never copied.
    let volume: Volume
    /// `metadata.name` (empty only for a volume without one, which the API never serves).
    let name: String
    let claimName: String
    /// The pod volume the mutator adds (`ChildNames.podVolumeName`).
    let podVolumeName: String
    let mountPath: String
    let isTerminating: Bool
    /// `purpose: software` (SharedVolumes only).
    let isSoftware: Bool
    /// `dv/home-alice`, `shv/tools`: how answers name it.
    let reference: String
    /// Its `stowage.io/injected` entries read-only and read-write (`dv/home-alice:ro`, `:rw`).
    let injectedReadOnly: String
    let injectedReadWrite: String
    /// What a new consumer waits for when its sync is allowed (a SharedVolume's access level
    /// may forbid syncing: then it is in place, see `arrival(config:)`).
    private let arrivalWhenSynced: VolumeLifecycle.Arrival

    init(_ volume: Volume) {
        self.volume = volume
        name = volume.metadata.name ?? ""
        claimName = volume.claimName
        podVolumeName = ChildNames.podVolumeName(kind: Volume.childKind, name: name)
        mountPath = volume.effectiveMountPath
        isTerminating = volume.isTerminating
        isSoftware = volume.isSoftware
        reference = "\(Volume.childKind.rawValue)/\(name)"
        injectedReadOnly = reference + ":ro"
        injectedReadWrite = reference + ":rw"
        arrivalWhenSynced = VolumeLifecycle.arrival(hasSource: volume.dataSource != nil, syncAllowed: true,
                                                    onStart: volume.syncPolicy.effectiveOnStart, status: volume.status)
    }

    /// What a new consumer waits for under `config` (`VolumeLifecycle.arrival`).
    func arrival(config: StowageConfig) -> VolumeLifecycle.Arrival {
        volume.syncAllowed(config: config) ? arrivalWhenSynced : .inPlace
    }
}

/// The volume kinds the webhook injects and judges.
protocol WebhookVolume: ManagedVolume, Sendable {
    var effectiveMountPath: String { get }
    var isTerminating: Bool { get }
    var isSoftware: Bool { get }
    /// False when the configuration forbids syncing this volume (a SharedVolume's level).
    func syncAllowed(config: StowageConfig) -> Bool
}

extension DataVolume: WebhookVolume {
    var isSoftware: Bool { false }
    func syncAllowed(config: StowageConfig) -> Bool { true }
}

extension SharedVolume: WebhookVolume {
    var isSoftware: Bool { spec.effectivePurpose == .software }
    func syncAllowed(config: StowageConfig) -> Bool { config.levels[spec.accessLevel]?.sync ?? true }
}
