import KubeModel
import SyncContract
import Testing
@testable import StowageAPI

@Suite struct ValidationTests {
    func dv(_ change: (inout DataVolumeSpec) -> Void) -> DataVolume {
        var spec = DataVolumeSpec(owner: "alice", size: "10Gi", source: s3Source())
        change(&spec)
        return DataVolume(name: "v", spec: spec)
    }

    @Test func validDataVolumeHasNoErrors() {
        #expect(dv { _ in }.validate().isEmpty)
        #expect(DataVolume(name: "plain", spec: DataVolumeSpec(size: "1Gi")).validate().isEmpty)
    }

    @Test func sizeMustBeAQuantity() {
        let errors = dv { $0.size = "ten gigs" }.validate()
        #expect(errors.fields == ["spec.size"])
        #expect(errors.first?.description == "spec.size: \"ten gigs\" is not a Kubernetes quantity (expected e.g. 10Gi or 500M)")
        #expect(dv { $0.size = "0" }.validate().fields == ["spec.size"])
    }

    @Test(arguments: [
        ("ab", "must be 3-63 characters long (\"ab\" has 2)"),
        ("Team-Data", "\"Team-Data\" may contain only lowercase letters, digits, dots and hyphens"),
        ("-team", "\"-team\" must begin and end with a letter or digit"),
        ("team..data", "\"team..data\" must not contain two adjacent dots"),
        ("192.168.1.10", "\"192.168.1.10\" must not be an IP address"),
        (String(repeating: "a", count: 64), "must be 3-63 characters long (\"\(String(repeating: "a", count: 64))\" has 64)"),
    ])
    func bucketRules(bucket: String, message: String) {
        let errors = dv { $0.source = s3Source(bucket: bucket) }.validate()
        #expect(errors == [FieldError("spec.source.s3.bucket", message)])
    }

    @Test func endpointMustBeHTTP() {
        for bad in ["s3.example.org", "ftp://s3.example.org", "https://", "https://host/?x=1"] {
            let fields = dv { $0.source?.s3?.endpoint = bad }.validate().fields
            #expect(fields == ["spec.source.s3.endpoint"], "\(bad)")
        }
        let minio = dv { $0.source?.s3?.endpoint = "http://minio.storage.svc:9000" }
        #expect(minio.validate().isEmpty)
    }

    @Test func sourceNeedsExactlyOneProvider() {
        let errors = dv { $0.source = DataSource() }.validate()
        #expect(errors == [FieldError("spec.source", "must set exactly one provider (s3 or http)")])
    }

    @Test func prefixAndSecretRefs() {
        func fields(_ change: (inout S3Source) -> Void) -> [String] {
            dv { spec in
                guard var s3 = spec.source?.s3 else { return }
                change(&s3)
                spec.source = DataSource(s3: s3)
            }.validate().fields
        }
        #expect(fields { $0.prefix = "/abs" } == ["spec.source.s3.prefix"])
        #expect(fields { $0.prefix = "a/../b" } == ["spec.source.s3.prefix"])
        #expect(fields { $0.credentialsSecretRef.name = "" } == ["spec.source.s3.credentialsSecretRef.name"])
        #expect(fields { $0.caBundleSecretRef = SecretKeySelector(name: "ca", key: "") } == ["spec.source.s3.caBundleSecretRef.key"])
    }

    @Test func mirrorRequiresSource() {
        let errors = dv { $0.source = nil; $0.access = .readWriteDelete }.validate()
        #expect(errors == [FieldError("spec.access", "RWD mirrors deletions to object storage and requires spec.source")])
    }

    @Test(arguments: ["relative/path", "/", "/data/../etc", "/a:b"])
    func mountPathRules(path: String) {
        #expect(dv { $0.mount = Mount(path: path) }.validate().fields == ["spec.mount.path"])
    }

    @Test func syncRules() {
        let errors = dv { $0.sync = SyncPolicy(schedule: "61 * * * *", maxDeletes: -1, runAsUser: -5) }.validate()
        #expect(errors.fields == ["spec.sync.schedule", "spec.sync.maxDeletes", "spec.sync.runAsUser"])
        #expect(errors[0].message == "\"61 * * * *\" is not a cron schedule: minute field: 61 is outside 0-59")
        #expect(dv { $0.sync = SyncPolicy(maxDeletes: 0) }.validate().isEmpty)
    }

    /// A pin is a version identifier or `latest`, of an S3 source, on an RO volume;
    /// keepVersions is for volumes that push.
    @Test func pinnedVersionAndKeepVersionsRules() {
        func pinned(_ version: String, access: AccessMode = .readOnly) -> [FieldError] {
            dv { spec in
                spec.access = access
                spec.source?.version = version
            }.validate()
        }
        let id = String(repeating: "ab", count: 32)
        #expect(pinned(id).isEmpty)
        #expect(pinned("latest").isEmpty)
        for bad in ["ABAB", String(repeating: "AB", count: 32), "v1", ""] {
            #expect(pinned(bad).fields == ["spec.source.version"], "\(bad)")
        }
        #expect(pinned(id, access: .readWrite) == [FieldError("spec.source.version",
            "a pinned version is a read-only input: set spec.access: RO (pushes of an RW or RWD volume make new versions)")])
        #expect(dv { $0.access = .readWriteDelete; $0.sync = SyncPolicy(keepVersions: true) }.validate().isEmpty)
        #expect(dv { $0.access = .readOnly; $0.sync = SyncPolicy(keepVersions: true) }.validate().fields == ["spec.sync.keepVersions"])
        #expect(dv { $0.source = nil; $0.sync = SyncPolicy(keepVersions: true) }.validate().fields == ["spec.sync.keepVersions"])
        #expect(dv { $0.sync = SyncPolicy(keepVersions: false); $0.access = .readOnly }.validate().isEmpty)
    }

    @Test func ttlMustParse() {
        #expect(dv { $0.cache = CachePolicy(ttlAfterIdle: "3 days") }.validate()
            == [FieldError("spec.cache.ttlAfterIdle", "\"3 days\" is not a duration (expected e.g. 45s, 30m, 2h or 1h30m)")])
        #expect(dv { $0.cache = CachePolicy(ttlAfterIdle: "-1h") }.validate().fields == ["spec.cache.ttlAfterIdle"])
    }

    @Test func accessModesAndOwner() {
        #expect(dv { $0.accessModes = ["ReadWriteOncePod"] }.validate().fields == ["spec.accessModes[0]"])
        #expect(dv { $0.accessModes = [] }.validate().fields == ["spec.accessModes"])
        #expect(dv { $0.owner = "" }.validate().fields == ["spec.owner"])
        #expect(dv { $0.storageClassName = "Fast_SSD" }.validate().fields == ["spec.storageClassName"])
    }

    @Test func podSelectorRules() {
        let bad = LabelSelector(matchLabels: ["bad key!": "x"], matchExpressions: [
            .init(key: "team", operator: .in),
            .init(key: "tier", operator: .exists, values: ["x"]),
        ])
        let errors = dv { $0.attachTo = AttachTo(users: [""], podSelector: bad) }.validate()
        #expect(errors.fields == ["spec.attachTo.users[0]", "spec.attachTo.podSelector.matchLabels",
                                  "spec.attachTo.podSelector.matchExpressions[0].values",
                                  "spec.attachTo.podSelector.matchExpressions[1].values"])
        #expect(dv { $0.attachTo = AttachTo(podSelector: LabelSelector()) }.validate().fields == ["spec.attachTo.podSelector"])
    }

    @Test func sharedVolumeRules() {
        var spec = SharedVolumeSpec(size: "1Gi", accessLevel: "private", members: [
            Member(user: "alice", access: .readWrite), Member(group: "team-a", access: .readOnly)])
        #expect(SharedVolume(name: "s", spec: spec).validate().isEmpty)
        var both = Member(user: "bob", access: .readOnly)
        both.group = "team-b"
        var neither = both
        neither.user = nil
        neither.group = nil
        spec.members = [both, neither, Member(user: "", access: .readOnly)]
        spec.accessLevel = ""
        spec.access = .readWriteDelete
        let errors = SharedVolume(name: "s", spec: spec).validate()
        #expect(errors.fields == ["spec.accessLevel", "spec.members[0]", "spec.members[1]", "spec.members[2].user", "spec.access"])
        #expect(errors[1].description == "spec.members[0]: must set exactly one of user and group")
    }

    @Test func softwareShareMayHaveReadWriteMembers() {
        let spec = SharedVolumeSpec(size: "1Gi", accessLevel: "private", members: [Member(user: "admin", access: .readWrite)], purpose: .software)
        #expect(SharedVolume(name: "s", spec: spec).validate().isEmpty)
    }

    /// Read by bytes, a DNS label is what it was read by characters: 1 to 63 of a-z, 0-9
    /// and `-`, starting and ending alphanumeric.
    @Test func dnsLabelsByBytesAsByCharacters() {
        func byCharacters(_ s: Substring) -> Bool {
            guard (1...63).contains(s.count), let first = s.first, let last = s.last else { return false }
            let alnum = { (c: Character) in c.isASCII && (c.isLowercase || c.isNumber) }
            return alnum(first) && alnum(last) && s.allSatisfy { alnum($0) || $0 == "-" }
        }
        let long = String(repeating: "a", count: 63)
        for text in ["", "a", "0", "-", "a-", "-a", "a-b", "dv-home-alice", "Home", "a.b", "a_b", "a b", "é", "aé", "a\r\nb",
                     "a\u{301}", "١", "ａ", long, long + "a", String(repeating: "é", count: 30), "a-\u{0}b", "shv-tools-2d01"] {
            #expect(Validator.isDNSLabel(Substring(text)) == byCharacters(Substring(text)), "\(text.debugDescription)")
        }
        #expect(Validator.isDNSLabel(Substring(long)))
        #expect(!Validator.isDNSLabel(Substring(long + "a")))
    }

    @Test func summaryJoinsErrors() {
        let errors = dv { $0.size = "x"; $0.owner = "" }.validate()
        #expect(errors.summary.hasPrefix("spec.owner: must not be empty when set; spec.size:"))
    }
}
