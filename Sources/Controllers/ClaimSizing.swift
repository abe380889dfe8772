import StowageAPI

/// Whether a volume's claim has the size its `spec.size` asks for, and what to do when it
/// has not, as a pure decision. A claim only grows: Kubernetes expands a claim when its
/// StorageClass sets `allowVolumeExpansion` (the API server refuses the resize otherwise),
/// and never shrinks one. The webhook refuses a smaller `spec.size`; where it is not
/// installed, the operator reports the shrink instead of acting on it.
public enum ClaimSizing: Sendable, Hashable {
    /// The claim asks for at least `spec.size` and has it.
    case fits
    /// Raise the claim's request from `from` to `to`.
    case expand(from: String, to: String)
    /// The claim asks for `spec.size`; the storage provider has not provided it yet.
    case expanding(to: String, capacity: String?)
    /// `spec.size` is smaller than what the claim already asks for.
    case shrinkRefused(size: String, claim: String)

    /// `wanted` is `spec.size`; `requested` and `capacity` are the claim's
    /// `spec.resources.requests.storage` and `status.capacity.storage`. Sizes that are not
    /// quantities (validation reports those) leave the claim as it is.
    public static func decide(wanted: String, requested: String?, capacity: String?) -> ClaimSizing {
        guard let want = Quantity.value(wanted), let requested, let asked = Quantity.value(requested) else { return .fits }
        if want < asked { return .shrinkRefused(size: wanted, claim: requested) }
        if want > asked { return .expand(from: requested, to: wanted) }
        // Asked for; a claim that is not bound yet has no capacity and is provisioned at that size.
        guard let capacity else { return .fits }
        if let has = Quantity.value(capacity), has < want { return .expanding(to: wanted, capacity: capacity) }
        return .fits
    }
}
