import Foundation
import KubeModel
import StowageAPI
import SyncContract
import Testing
@testable import Webhook

@Suite("PodValidator")
struct PodValidatorTests {
    let world = VolumeSnapshot(config: testConfig(), dataVolumes: [
        dataVolume("home-alice", owner: "alice", users: ["alice"], path: "/home/jovyan"),
        dataVolume("home-bob", owner: "bob", users: ["bob"], path: "/home/jovyan"),
        dataVolume("reference", users: ["alice"], path: "/data/reference", access: .readOnly),
    ], sharedVolumes: [
        sharedVolume("datasets", level: "public", path: "/shared/datasets"),
        sharedVolume("team", level: "private", members: [Member(group: "team-a", access: .readWrite)]),
    ])

    func verdict(_ pod: Pod, creator: String = spawner, snapshot: VolumeSnapshot? = nil) -> Verdict {
        let snapshot = snapshot ?? world
        let identity = PodIdentity.of(creator: creator, annotations: pod.metadata.annotations, config: snapshot.config)
        return PodValidator.validate(WorkloadRequest(pod: pod, namespace: "jhub"), identity: identity, snapshot: snapshot, settings: settings)
    }

    func pod(user: String? = "alice", claim: String, sourceReadOnly: Bool? = nil, mountReadOnly: Bool? = nil,
             labels: [String: String] = [:]) -> Pod {
        var mount = VolumeMount(name: "v", mountPath: "/v")
        mount.readOnly = mountReadOnly
        return notebookPod(user: user, labels: labels, volumes: [Volume(name: "v", claimName: claim, readOnly: sourceReadOnly)], mounts: [mount])
    }

    @Test func ownHomeIsAllowed() {
        #expect(verdict(pod(claim: "dv-home-alice")).allowed)
    }

    @Test func anotherUsersHomeIsDeniedNamingVolumeOwnerAndUser() {
        let v = verdict(pod(claim: "dv-home-bob"))
        #expect(!v.allowed)
        #expect(v.message == #"pod mounts DataVolume "home-bob" (claim dv-home-bob) of user "bob": user "alice" is not entitled"#)
    }

    @Test func untrustedCreatorIsDeniedEvenItsOwnNamedHome() {
        let v = verdict(pod(claim: "dv-home-alice"), creator: stranger)
        #expect(!v.allowed)
        #expect(v.message.contains("no user identity"))
        #expect(v.message.contains(stranger))
    }

    @Test func readOnlyGrantMountedReadWriteIsDenied() {
        for (source, mount) in [(nil, nil), (true, nil), (nil, true)] as [(Bool?, Bool?)] {
            let v = verdict(pod(claim: "dv-reference", sourceReadOnly: source, mountReadOnly: mount))
            #expect(!v.allowed)
            #expect(v.message.contains("read-write: user \"alice\" may only read it"))
        }
        #expect(verdict(pod(claim: "dv-reference", sourceReadOnly: true, mountReadOnly: true)).allowed)
    }

    @Test func sharedVolumesFollowLevelsAndMembers() {
        #expect(!verdict(pod(claim: "shv-datasets")).allowed)
        #expect(verdict(pod(claim: "shv-datasets", sourceReadOnly: true, mountReadOnly: true)).allowed)
        #expect(verdict(pod(claim: "shv-team")).allowed)
        let carol = verdict(pod(user: "carol", claim: "shv-team"))
        #expect(carol.message == #"pod mounts SharedVolume "team" (claim shv-team, access level "private"): user "carol" is not entitled"#)
    }

    @Test func reportedGroupsCount() {
        var p = pod(user: "carol", claim: "shv-team")
        p.metadata.annotations?["stowage.io/groups"] = "x, team-a"
        #expect(verdict(p).allowed)
    }

    @Test func reservedClaimWithoutVolumeIsDeniedExceptOwnFutureHome() {
        #expect(verdict(pod(user: "dave", claim: "dv-home-dave")).allowed)
        let v = verdict(pod(user: "dave", claim: "dv-home-erin"))
        #expect(v.message.contains("reserved for DataVolume \"home-erin\""))
        #expect(!verdict(pod(claim: "shv-nothing")).allowed)
    }

    @Test func ordinaryClaimsAreNotOurBusiness() {
        #expect(verdict(pod(user: nil, claim: "my-data"), creator: stranger).allowed)
    }

    @Test func operatorSyncPodsAndJobPodsAreAllowed() {
        var sync = pod(user: nil, claim: "dv-home-bob", labels: [StowageKeys.managedBy: StowageKeys.managedByValue])
        #expect(verdict(sync, creator: "system:serviceaccount:stowage-system:stowage").allowed)
        // The label alone, from anyone else, proves nothing.
        #expect(!verdict(sync, creator: stranger).allowed)
        sync.metadata.ownerReferences = [OwnerReference(apiVersion: "batch/v1", kind: "Job", name: "dv-home-bob-pull-1", uid: "u")]
        #expect(verdict(sync, creator: "system:serviceaccount:kube-system:job-controller").allowed)
        #expect(!verdict(sync, creator: stranger).allowed)
    }

    @Test func jobsAreJudgedByTheirTemplate() {
        let template = Job.PodTemplate(metadata: ObjectMeta(labels: [StowageKeys.managedBy: StowageKeys.managedByValue]),
                                       spec: PodSpec(containers: [Container(name: "c")], volumes: [Volume(name: "d", claimName: "dv-home-bob")]))
        var job = Job(metadata: ObjectMeta(name: "steal", namespace: "jhub", labels: [StowageKeys.managedBy: StowageKeys.managedByValue]),
                      spec: Job.Spec(template: template))
        func judge(_ creator: String) -> Verdict {
            PodValidator.validate(WorkloadRequest(job: job, namespace: "jhub"),
                                  identity: PodIdentity(creator: creator, user: nil), snapshot: world, settings: settings)
        }
        #expect(!judge(stranger).allowed)
        #expect(judge("system:serviceaccount:stowage-system:stowage").allowed)
        job.metadata.labels = nil
        #expect(!judge("system:serviceaccount:stowage-system:stowage").allowed)
    }
}

@Suite("VolumeValidator")
struct VolumeValidatorTests {
    @Test func fieldErrorsNameTheField() {
        var volume = dataVolume("x", owner: "alice")
        volume.spec.size = "lots"
        let v = VolumeValidator.validate(volume, config: testConfig())
        #expect(!v.allowed)
        #expect(v.causes.contains { $0.field == "spec.size" })
        #expect(v.message.hasPrefix("DataVolume \"x\" is invalid: spec.size"))
    }

    @Test func homeNamesAreReservedForTheirUser() {
        #expect(VolumeValidator.validate(dataVolume("home-alice", owner: "alice"), config: testConfig()).allowed)
        let squat = VolumeValidator.validate(dataVolume("home-bob", owner: "alice"), config: testConfig())
        #expect(squat.causes.map(\.field) == ["metadata.name"])
        #expect(!VolumeValidator.validate(dataVolume("home-bob"), config: testConfig()).allowed)
        #expect(VolumeValidator.validate(dataVolume("homework", owner: "alice"), config: testConfig()).allowed)
    }

    @Test func unknownAccessLevelIsDeniedWhenLevelsExist() {
        let share = sharedVolume("s", level: "nope")
        let v = VolumeValidator.validate(share, config: testConfig())
        #expect(v.causes.map(\.field) == ["spec.accessLevel"])
        #expect(v.message.contains("unknown access level \"nope\""))
        #expect(VolumeValidator.validate(share, config: .empty).allowed)
    }

    @Test func syncForbiddenByLevel() {
        let v = VolumeValidator.validate(sharedVolume("s", level: "secret", source: true), config: testConfig())
        #expect(v.causes.map(\.field) == ["spec.source"])
    }
}
