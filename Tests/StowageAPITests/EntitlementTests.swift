import SyncContract
import Testing
@testable import StowageAPI

@Suite struct EntitlementTests {
    static let config = StowageConfig(
        groups: ["team-a": ["alice", "bob"]],
        levels: [
            "public": AccessLevel(read: [.anyUser], write: [.readWriteMembers]),
            "private": AccessLevel(read: [.members], write: [.readWriteMembers]),
            "secret": AccessLevel(read: [.members], write: [], sync: false),
            "curated": AccessLevel(read: [.group("auditors")], write: [.user("dave")]),
        ])

    static func share(_ level: String, purpose: Purpose? = nil) -> SharedVolume {
        SharedVolume(name: "s", spec: SharedVolumeSpec(size: "1Gi", accessLevel: level, members: [
            Member(user: "carol", access: .readWrite),
            Member(group: "team-a", access: .readOnly),
            Member(group: "writers", access: .readWrite),
        ], purpose: purpose))
    }

    /// (level, user, reported groups, expected)
    static let table: [(String, String?, Set<String>, Entitlement)] = [
        ("public", "zoe", [], .read),              // * reads
        ("public", "carol", [], .readWrite),       // ReadWrite member writes
        ("public", "alice", [], .read),            // ReadOnly member through a config group
        ("public", nil, [], .none),                // unidentified
        ("public", "", [], .none),
        ("private", "zoe", [], .none),             // not a member
        ("private", "bob", [], .read),             // config group team-a, ReadOnly
        ("private", "zoe", ["team-a"], .read),     // spawner-reported group
        ("private", "zoe", ["writers"], .readWrite),
        ("private", "alice", ["writers"], .readWrite), // the best grant wins
        ("secret", "carol", [], .read),            // nobody writes
        ("secret", "zoe", [], .none),
        ("curated", "carol", [], .none),           // membership alone grants nothing here
        ("curated", "zoe", ["auditors"], .read),
        ("curated", "dave", [], .readWrite),       // write implies read
        ("missing", "carol", [], .none),           // unknown level
    ]

    @Test func sharedVolumeTable() {
        for (level, user, groups, expected) in Self.table {
            let got = Self.config.entitlement(user: user, groups: groups, to: Self.share(level))
            #expect(got == expected, "\(level) \(user ?? "nil") \(groups)")
        }
    }

    @Test func softwareCapsAtRead() {
        let share = Self.share("public", purpose: .software)
        #expect(Self.config.entitlement(user: "carol", groups: [], to: share) == .read)
        #expect(Self.config.entitlement(user: "zoe", groups: [], to: share) == .read)
        #expect(share.attaches(toPodOf: "zoe", groups: [], config: Self.config))
        #expect(!Self.share("private").attaches(toPodOf: "zoe", groups: [], config: Self.config))
    }

    @Test func groupsOfUser() {
        #expect(Self.config.groups(of: "alice", reported: ["x"]) == ["team-a", "x"])
        #expect(Self.config.groups(of: "zoe").isEmpty)
    }

    @Test func entitlementOrder() {
        #expect(Entitlement.none < .read && Entitlement.read < .readWrite)
        #expect(min(Entitlement.readWrite, .read) == .read)
    }

    static let selector = LabelSelector(matchLabels: ["app": "train"], matchExpressions: [.init(key: "tier", operator: .notIn, values: ["dev"])])

    @Test func dataVolumeOwnerAndUsers() {
        let dv = DataVolume(name: "d", spec: DataVolumeSpec(owner: "alice", size: "1Gi", attachTo: AttachTo(users: ["bob"], podSelector: Self.selector)))
        #expect(dv.entitlement(user: "alice", podLabels: [:]) == .readWrite)
        #expect(dv.entitlement(user: "bob", podLabels: [:]) == .readWrite)
        #expect(dv.entitlement(user: nil, podLabels: ["app": "train"]) == .none)
        // A selector never hands an owned volume to another user.
        #expect(dv.entitlement(user: "mallory", podLabels: ["app": "train"]) == .none)
        #expect(dv.attaches(toPodOf: "bob", labels: [:]))
        #expect(dv.attaches(toPodOf: "alice", labels: ["app": "train"]))
        #expect(!dv.attaches(toPodOf: "alice", labels: [:]))     // the owner's other pods are not selected
        #expect(!dv.attaches(toPodOf: "mallory", labels: ["app": "train"]))
    }

    @Test func dataVolumeWithoutOwnerUsesSelector() {
        let dv = DataVolume(name: "d", spec: DataVolumeSpec(size: "1Gi", attachTo: AttachTo(podSelector: Self.selector)))
        #expect(dv.entitlement(user: "zoe", podLabels: ["app": "train"]) == .readWrite)
        #expect(dv.entitlement(user: "zoe", podLabels: ["app": "train", "tier": "dev"]) == .none)
        #expect(dv.entitlement(user: "zoe", podLabels: ["app": "serve"]) == .none)
        #expect(dv.entitlement(user: nil, podLabels: ["app": "train"]) == .none)
        #expect(dv.attaches(toPodOf: "zoe", labels: ["app": "train"]))
        // An empty selector matches nothing here, though Kubernetes would match everything.
        let open = DataVolume(name: "d", spec: DataVolumeSpec(size: "1Gi", attachTo: AttachTo(podSelector: LabelSelector())))
        #expect(open.entitlement(user: "zoe", podLabels: [:]) == .none)
    }

    @Test func readOnlyCapsDataVolume() {
        var dv = DataVolume(name: "d", spec: DataVolumeSpec(owner: "alice", size: "1Gi", source: s3Source(), access: .readOnly))
        #expect(dv.entitlement(user: "alice", podLabels: [:]) == .read)
        #expect(dv.attaches(toPodOf: "alice", labels: [:]))    // no attachTo: the owner's pods
        #expect(!dv.attaches(toPodOf: "bob", labels: [:]))
        dv.spec.access = .readWrite
        dv.spec.mount = Mount(path: "/x", readOnly: true)
        #expect(dv.entitlement(user: "alice", podLabels: [:]) == .read)
    }

    @Test func labelSelectorOperators() {
        let s = LabelSelector(matchExpressions: [
            .init(key: "a", operator: .in, values: ["1", "2"]),
            .init(key: "b", operator: .notIn, values: ["x"]),
            .init(key: "c", operator: .exists),
            .init(key: "d", operator: .doesNotExist),
        ])
        #expect(s.matches(labels: ["a": "1", "c": ""]))
        #expect(s.matches(labels: ["a": "2", "b": "y", "c": "z"]))
        #expect(!s.matches(labels: ["a": "3", "c": ""]))
        #expect(!s.matches(labels: ["a": "1", "b": "x", "c": ""]))
        #expect(!s.matches(labels: ["a": "1"]))
        #expect(!s.matches(labels: ["a": "1", "c": "", "d": "1"]))
        #expect(LabelSelector().matches(labels: [:]) && LabelSelector().isEmpty)
    }
}
