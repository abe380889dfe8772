import StowageAPI

/// Who a pod belongs to, as far as Stowage is concerned: the user a trusted spawner named
/// and that user's groups. Everything the webhook grants or refuses follows from this.
///
/// The user is taken only from pods whose creator (the admission request's
/// `userInfo.username`, which the API server authenticated) is a trusted spawner; labels and
/// annotations alone are set by whoever writes the pod and prove nothing.
public struct PodIdentity: Sendable, Hashable {
    /// The Kubernetes user that sent the request.
    public var creator: String
    /// The notebook user, or nil when the creator is not trusted or named nobody.
    public var user: String?
    /// The groups the spawner reported plus the configuration's groups that list the user.
    public var groups: Set<String>

    public init(creator: String, user: String?, groups: Set<String> = []) {
        self.creator = creator
        self.user = user
        self.groups = groups
    }

    /// The identity of a pod with `annotations` sent by `creator`, under `config`.
    public static func of(creator: String, annotations: [String: String]?, config: StowageConfig) -> PodIdentity {
        let (user, reported) = config.spawners.identity(creator: creator, annotations: annotations ?? [:])
        guard let user else { return PodIdentity(creator: creator, user: nil) }
        return PodIdentity(creator: creator, user: user, groups: config.groups(of: user, reported: reported))
    }

    /// Why this identity is entitled to nothing, for denial messages.
    var anonymousReason: String {
        "the pod has no user identity (it was created by \"\(creator)\", which is not a trusted spawner, or it names no user)"
    }
}
