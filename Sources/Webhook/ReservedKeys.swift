import KubeModel
import StowageAPI

/// The pod metadata the rest of Stowage trusts, which therefore only Stowage may write:
/// the identity annotation `stowage.io/user` (the homes controller creates a home for the
/// user it names) and the label `stowage.io/managed-by` (it marks the operator's sync pods,
/// which do not count as a volume's consumers).
///
/// The validating webhook enforces both on every pod and Job it reviews, in every namespace
/// it covers, whether or not the mutating webhook ran there:
/// - `stowage.io/user` on creation must be the user the webhook establishes for the
///   request (`PodIdentity`: a trusted spawner's user annotation), or absent;
/// - `stowage.io/managed-by` (any value) may be set only by the operator's own users;
/// - neither may be added or changed by a later update, except by the operator.
///
/// So a pod carrying either key got it from Stowage, and a label or annotation a user can
/// write never stands in for the identity the webhook established.
enum ReservedKeys {
    /// Why a new object may not carry the reserved keys it carries; empty when it may.
    static func creationProblems(_ request: WorkloadRequest, identity: PodIdentity, settings: AdmissionSettings,
                                 userAnnotation: String) -> [String] {
        var problems: [String] = []
        let what = request.kind.lowercased()
        if let claimed = request.annotations[StowageKeys.user], claimed != identity.user {
            if let user = identity.user {
                problems.append("\(what) annotation \(StowageKeys.user) says \"\(claimed)\", but its trusted spawner's annotation \(userAnnotation) names \"\(user)\": \(StowageKeys.user) is set by Stowage's webhook only")
            } else {
                problems.append("\(what) annotation \(StowageKeys.user) is set by Stowage's webhook only, for pods of a trusted spawner; \"\(identity.creator)\" is not one, so this \(what) may not say it belongs to \"\(claimed)\" (remove the annotation)")
            }
        }
        if !settings.operatorUsers.contains(identity.creator) {
            let places = [(request.labels, what), (request.templateLabels, "\(what)'s pod template")]
            for (labels, place) in places where labels[StowageKeys.managedBy] != nil {
                problems.append("\(place) has label \(StowageKeys.managedBy), which marks the Stowage operator's own sync pods and Jobs; \"\(identity.creator)\" is not the operator (remove the label)")
            }
        }
        return problems
    }

    /// Why an update of `old` to `new` by `creator` may not change the reserved keys the way
    /// it does; empty when it may (removing either key is allowed: it claims nothing).
    static func updateProblems(old: WorkloadRequest, new: WorkloadRequest, creator: String, settings: AdmissionSettings) -> [String] {
        guard !settings.operatorUsers.contains(creator) else { return [] }
        var problems: [String] = []
        let what = new.kind.lowercased()
        let (userBefore, userAfter) = (old.annotations[StowageKeys.user], new.annotations[StowageKeys.user])
        if let userAfter, userAfter != userBefore {
            problems.append("\(what) annotation \(StowageKeys.user) may not be added or changed after creation (\(describe(userBefore)) to \"\(userAfter)\"): it is set by Stowage's webhook only")
        }
        let (labelBefore, labelAfter) = (old.labels[StowageKeys.managedBy], new.labels[StowageKeys.managedBy])
        if let labelAfter, labelAfter != labelBefore {
            problems.append("\(what) label \(StowageKeys.managedBy) may not be added or changed (\(describe(labelBefore)) to \"\(labelAfter)\"): it marks the Stowage operator's own sync pods and Jobs, and \"\(creator)\" is not the operator")
        }
        return problems
    }

    private static func describe(_ value: String?) -> String { value.map { "\"\($0)\"" } ?? "unset" }
}
