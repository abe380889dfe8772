import Foundation
import KubeModel
import StowageAPI
import SyncContract
import Testing
@testable import Webhook

@Suite("PodMutator")
struct PodMutatorTests {
    let world = VolumeSnapshot(config: testConfig(), dataVolumes: [
        dataVolume("home-alice", owner: "alice", users: ["alice"], path: "/home/jovyan"),
        dataVolume("alice-data", owner: "alice", path: "/data/alice"),
        dataVolume("bob-data", owner: "bob", path: "/data/bob"),
        dataVolume("reference", users: ["alice"], path: "/data/reference", access: .readOnly),
        dataVolume("gpu-scratch", selector: ["gpu": "true"], path: "/scratch"),
    ], sharedVolumes: [
        sharedVolume("datasets", level: "public", path: "/shared/datasets"),
        sharedVolume("team", level: "private", members: [Member(group: "team-a", access: .readWrite)], path: "/shared/team"),
        sharedVolume("vault", level: "secret", members: [Member(user: "bob", access: .readOnly)], path: "/shared/vault"),
        sharedVolume("modules", level: "public", purpose: .software, path: "/opt/modules"),
    ])

    @Test func trustedSpawnerPodGetsEverythingItIsEntitledTo() throws {
        let (pod, result) = try mutated(notebookPod(), snapshot: world)
        #expect(result.injected == ["dv/home-alice:rw", "dv/alice-data:rw", "dv/reference:ro",
                                    "shv/datasets:ro", "shv/modules:ro", "shv/team:rw"])
        let volumes = Dictionary(uniqueKeysWithValues: (pod.spec?.volumes ?? []).map { ($0.name, $0.persistentVolumeClaim) })
        #expect(volumes["dv-home-alice"]??.claimName == "dv-home-alice")
        #expect(volumes["dv-home-alice"]??.readOnly == nil)
        #expect(volumes["dv-reference"]??.readOnly == true)
        #expect(volumes["shv-datasets"]??.readOnly == true)
        #expect(volumes["shv-team"]??.readOnly == nil)
        #expect(volumes["dv-bob-data"] == nil)
        #expect(volumes["shv-vault"] == nil)
        let mounts = Dictionary(uniqueKeysWithValues: (pod.spec?.containers[0].volumeMounts ?? []).map { ($0.mountPath, $0) })
        #expect(mounts["/home/jovyan"]?.name == "dv-home-alice")
        #expect(mounts["/data/reference"]?.readOnly == true)
        #expect(mounts["/shared/team"]?.readOnly == nil)
        #expect(pod.metadata.annotations?[StowageKeys.user] == "alice")
        #expect(pod.metadata.annotations?[StowageKeys.injected] == result.injected.joined(separator: ","))
        #expect(result.warnings.isEmpty)
        // Everything is in place: no wait container.
        #expect(pod.spec?.initContainers == nil)
    }

    @Test func untrustedCreatorGetsNothingAndLosesForgedAnnotations() throws {
        let forged = notebookPod(annotations: [StowageKeys.user: "bob", StowageKeys.injected: "dv/bob-data:rw"])
        let (pod, result) = try mutated(forged, creator: stranger, snapshot: world)
        #expect(result.injected.isEmpty)
        #expect(pod.spec?.volumes == nil)
        #expect(pod.metadata.annotations?[StowageKeys.user] == nil)
        #expect(pod.metadata.annotations?[StowageKeys.injected] == nil)
        #expect(pod.metadata.annotations?["hub.jupyter.org/username"] == "alice")
    }

    @Test func trustedPodWithoutUserAnnotationIsStrippedToo() throws {
        let (pod, result) = try mutated(notebookPod(user: nil, annotations: [StowageKeys.user: "alice"]), snapshot: world)
        #expect(result.injected.isEmpty)
        #expect(pod.metadata.annotations?[StowageKeys.user] == nil)
    }

    @Test func trustedSpawnerOverwritesAForgedUserAnnotation() throws {
        let (pod, _) = try mutated(notebookPod(annotations: [StowageKeys.user: "bob"]), snapshot: world)
        #expect(pod.metadata.annotations?[StowageKeys.user] == "alice")
    }

    @Test func labelsAloneGrantNothingToAnotherUsersVolume() throws {
        // A pod selector matches, but the volume has an owner who is not the pod's user.
        var snapshot = world
        snapshot.dataVolumes.append(dataVolume("bob-gpu", owner: "bob", selector: ["gpu": "true"], path: "/bob"))
        let (_, result) = try mutated(notebookPod(labels: ["gpu": "true"]), snapshot: snapshot)
        #expect(result.injected.contains("dv/gpu-scratch:rw"))
        #expect(!result.injected.contains { $0.hasPrefix("dv/bob-gpu") })
    }

    @Test func homeIsInjectedBeforeTheDataVolumeExists() throws {
        let snapshot = VolumeSnapshot(config: testConfig())
        let (pod, result) = try mutated(notebookPod(user: "Zoë"), snapshot: snapshot)
        let home = try #require(UserName.homeName(for: "Zoë"))
        #expect(result.injected == ["dv/\(home):rw"])
        #expect(pod.spec?.volumes?.first?.persistentVolumeClaim?.claimName == "dv-\(home)")
        #expect(pod.spec?.containers[0].volumeMounts?.first?.mountPath == "/home/jovyan")
        // No source: nothing to pull, nothing to wait for.
        #expect(pod.spec?.initContainers == nil)
    }

    @Test func homesOffMeansNoHome() throws {
        let (_, result) = try mutated(notebookPod(), snapshot: VolumeSnapshot(config: testConfig(homes: false)))
        #expect(result.injected.isEmpty)
    }

    @Test func volumesNotInPlaceGetTheWaitInitContainerFirst() throws {
        let snapshot = VolumeSnapshot(config: testConfig(homeSource: true), dataVolumes: [
            dataVolume("pulling", owner: "alice", path: "/data/pulling", source: true, phase: .initializing),
            dataVolume("ready", owner: "alice", path: "/data/ready", source: true, phase: .ready),
        ])
        var pod = notebookPod()
        pod.spec?.initContainers = [Container(name: "chown", image: "busybox")]
        let (out, _) = try mutated(pod, snapshot: snapshot)
        let inits = try #require(out.spec?.initContainers)
        #expect(inits.map(\.name) == ["stowage-wait", "chown"])
        let wait = inits[0]
        #expect(wait.image == "stowage:test")
        #expect(wait.command == ["stowage"])
        #expect(wait.args == ["wait", "--path", "/home/jovyan:0", "--path", "/data/pulling:0", "--timeout", "600"])
        #expect(wait.volumeMounts?.map(\.mountPath) == ["/home/jovyan", "/data/pulling"])
        #expect(wait.volumeMounts?.allSatisfy { $0.readOnly == true } == true)
        #expect(wait.securityContext?.allowPrivilegeEscalation == false)
    }

    @Test func softwareSharesExtendModulePathInEveryContainer() throws {
        let pod = notebookPod(env: [EnvVar(name: "MODULEPATH", value: "/usr/share/modulefiles")], sidecar: true)
        let (out, _) = try mutated(pod, snapshot: world)
        let containers = try #require(out.spec?.containers)
        #expect(containers[0].env?.first { $0.name == "MODULEPATH" }?.value == "/usr/share/modulefiles:/opt/modules")
        #expect(containers[1].env?.first { $0.name == "MODULEPATH" }?.value == "/opt/modules")
        #expect(containers[1].volumeMounts?.contains { $0.mountPath == "/opt/modules" && $0.readOnly == true } == true)
    }

    @Test func modulePathFromValueFromIsLeftAloneWithAWarning() throws {
        let pod = notebookPod(env: [EnvVar(name: "MODULEPATH", secret: SecretKeySelector(name: "s", key: "k"))])
        let (_, result) = try mutated(pod, snapshot: world)
        #expect(result.warnings.contains { $0.contains("MODULEPATH of container notebook") })
        #expect(!result.patch.contains { $0.path.contains("/env/0/value") })
    }

    @Test func thePodsOwnVolumeNameWins() throws {
        let pod = notebookPod(volumes: [Volume(name: "dv-alice-data", secretName: "mine")],
                              mounts: [VolumeMount(name: "dv-alice-data", mountPath: "/secret")])
        let (out, result) = try mutated(pod, snapshot: world)
        #expect(!result.injected.contains("dv/alice-data:rw"))
        #expect(out.spec?.volumes?.first { $0.name == "dv-alice-data" }?.secret != nil)
        #expect(result.warnings.contains { $0.contains("dv/alice-data") && $0.contains("volume named dv-alice-data") })
        #expect(out.metadata.annotations?[StowageKeys.injected]?.contains("skipped: dv/alice-data") == true)
    }

    @Test func thePodsOwnMountPathWins() throws {
        let pod = notebookPod(volumes: [Volume(name: "home", claimName: "my-home")],
                              mounts: [VolumeMount(name: "home", mountPath: "/home/jovyan")])
        let (out, result) = try mutated(pod, snapshot: world)
        #expect(!result.injected.contains { $0.hasPrefix("dv/home-alice") })
        #expect(out.spec?.containers[0].volumeMounts?.filter { $0.mountPath == "/home/jovyan" }.map(\.name) == ["home"])
        #expect(result.warnings.contains { $0.contains("mount path /home/jovyan is already used by volume home in container notebook") })
        #expect(result.injected.contains("dv/alice-data:rw"))
    }

    @Test func theSpawnersOwnClaimIsNotMountedTwice() throws {
        let pod = notebookPod(volumes: [Volume(name: "home", claimName: "dv-home-alice")],
                              mounts: [VolumeMount(name: "home", mountPath: "/home/me")])
        let (_, result) = try mutated(pod, snapshot: world)
        #expect(result.warnings.contains { $0.contains("already mounts claim dv-home-alice as volume home") })
        #expect(!result.patch.contains { $0.value?["persistentVolumeClaim"]?["claimName"] == "dv-home-alice" })
    }

    @Test func earlierStowageVolumeWinsASharedMountPath() throws {
        let snapshot = VolumeSnapshot(config: testConfig(homes: false), dataVolumes: [
            dataVolume("a", owner: "alice", path: "/data/x"), dataVolume("b", owner: "alice", path: "/data/x"),
        ])
        let (_, result) = try mutated(notebookPod(), snapshot: snapshot)
        #expect(result.injected == ["dv/a:rw"])
        #expect(result.warnings.contains { $0.contains("dv/b") && $0.contains("/data/x") })
    }

    @Test func terminatingVolumesAreNotInjected() throws {
        var going = dataVolume("going", owner: "alice", path: "/going")
        going.status?.phase = .terminating
        let (_, result) = try mutated(notebookPod(), snapshot: VolumeSnapshot(config: testConfig(homes: false), dataVolumes: [going]))
        #expect(result.injected.isEmpty)
        #expect(result.warnings.contains { $0.contains("being deleted") })
    }

    @Test func aSecondPassChangesNothing() throws {
        let snapshot = VolumeSnapshot(config: testConfig(homeSource: true), dataVolumes: world.dataVolumes + [
            dataVolume("pulling", owner: "alice", path: "/data/pulling", source: true, phase: .pending),
        ], sharedVolumes: world.sharedVolumes)
        let cases = [
            notebookPod(env: [EnvVar(name: "MODULEPATH", value: "/m")], sidecar: true),
            notebookPod(volumes: [Volume(name: "home", claimName: "mine")], mounts: [VolumeMount(name: "home", mountPath: "/home/jovyan")]),
            notebookPod(annotations: [StowageKeys.user: "mallory"]),
            notebookPod(user: nil),
        ]
        for pod in cases {
            for creator in [spawner, stranger] {
                let (once, first) = try mutated(pod, creator: creator, snapshot: snapshot)
                let (twice, second) = try mutated(once, creator: creator, snapshot: snapshot)
                #expect(second.patch.isEmpty, "second pass patched \(second.patch) for creator \(creator)")
                #expect(second.injected == first.injected)
                #expect(try JSONValue(encoding: twice) == JSONValue(encoding: once))
            }
        }
    }

    @Test func patchPathsEscapeAnnotationKeys() throws {
        let result = PodMutator.mutate(notebookPod(), identity: PodIdentity(creator: spawner, user: "alice"),
                                       snapshot: VolumeSnapshot(config: testConfig(homes: false)), settings: settings)
        #expect(result.patch.contains { $0.path == "/metadata/annotations/stowage.io~1user" && $0.value == "alice" })
    }

    @Test func podWithoutAnnotationsGetsTheWholeMap() throws {
        let pod = Pod(metadata: ObjectMeta(name: "p", namespace: "jhub"), spec: PodSpec(containers: [Container(name: "c")]))
        let result = PodMutator.mutate(pod, identity: PodIdentity(creator: spawner, user: "alice"),
                                       snapshot: VolumeSnapshot(config: testConfig(homes: false)), settings: settings)
        #expect(result.patch == [.add("/metadata/annotations", ["stowage.io/user": "alice"])])
    }
}
