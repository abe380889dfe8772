import KubeModel
import StowageAPI

/// Refuses DataVolume and SharedVolume specs that are invalid, with messages that name the
/// field. The same `validate()` the controllers run, plus rules that need the access-level
/// configuration or protect other users.
public enum VolumeValidator {
    /// Names starting with this are per-user homes (`UserName.homeName(for:)`).
    static let homePrefix = "home-"

    /// `old`: the object an update replaces (nil on create).
    public static func validate(_ volume: DataVolume, old: DataVolume? = nil, config: StowageConfig) -> Verdict {
        var errors = volume.validate() + (old.map(volume.validateUpdate(from:)) ?? [])
        // A home name decides whose home it is (the mutator injects `home-<user>` into that
        // user's pods), so nobody may take another user's home name before the operator does.
        if let name = volume.metadata.name, name.hasPrefix(homePrefix) {
            let owner = volume.spec.owner
            if owner.flatMap(UserName.homeName(for:)) != name {
                errors.append(FieldError("metadata.name", "names starting with \"\(homePrefix)\" are reserved for per-user homes: \"\(name)\" is not the home of spec.owner (\(owner.map { "\"\($0)\"" } ?? "unset"))"))
            }
        }
        return verdict(errors, kind: DataVolume.kind, name: volume.metadata.name)
    }

    public static func validate(_ share: SharedVolume, old: SharedVolume? = nil, config: StowageConfig) -> Verdict {
        var errors = share.validate() + (old.map(share.validateUpdate(from:)) ?? [])
        // Without levels the configuration is absent or not yet written: the controller
        // reports the unresolved level on the object rather than blocking creation.
        if !config.levels.isEmpty { errors += config.validate(share) }
        return verdict(errors, kind: SharedVolume.kind, name: share.metadata.name)
    }

    static func verdict(_ errors: [FieldError], kind: String, name: String?) -> Verdict {
        guard !errors.isEmpty else { return .allow }
        return .deny(["\(kind) \"\(name ?? "")\" is invalid: \(errors.summary)"], causes: errors)
    }
}
