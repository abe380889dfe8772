import Foundation
import KubeModel
import StowageAPI
import SyncContract
import Testing
@testable import Webhook

/// The mutation's patch is written as text straight from its steps (`PatchStep`), not built
/// as a `JSONValue` tree and written from that. These tests hold the two to each other:
/// byte for byte, over pods that take every kind of operation.
@Suite("Patch text")
struct PatchTextTests {
    static let world = VolumeSnapshot(config: testConfig(homeSource: true), dataVolumes: [
        dataVolume("home-alice", owner: "alice", users: ["alice"], path: "/home/jovyan"),
        dataVolume("alice-data", owner: "alice", path: "/data/alice"),
        dataVolume("reference", users: ["alice"], path: "/data/reference", access: .readOnly),
        dataVolume("pulling", owner: "alice", path: "/data/pulling \"quoted\"", source: true, phase: .pending),
        dataVolume("gpu-scratch", selector: ["gpu": "true"], path: "/scratch"),
    ], sharedVolumes: [
        sharedVolume("datasets", level: "public", path: "/shared/datasets"),
        sharedVolume("team", level: "private", members: [Member(group: "team-a", access: .readWrite)], path: "/shared/team"),
        sharedVolume("modules", level: "public", purpose: .software, path: "/opt/modules"),
        sharedVolume("fresh", level: "public", path: "/shared/fresh", source: true, phase: .pending),
    ])

    /// Pods that between them take every step: volumes and mounts added to lists the pod
    /// has and to lists it lacks, the wait container first of the init containers or as
    /// the only one, `MODULEPATH` extended and created, annotations added one by one, as a
    /// whole map, and removed.
    static func pods() -> [(String, Pod, PodIdentity)] {
        var withInits = notebookPod(volumes: [Volume(name: "own", claimName: "mine")],
                                    mounts: [VolumeMount(name: "own", mountPath: "/own")], sidecar: true)
        withInits.spec?.initContainers = [Container(name: "chown", image: "busybox")]
        let bare = Pod(metadata: ObjectMeta(name: "p", namespace: "jhub", annotations: nil), spec: PodSpec(containers: [Container(name: "c")]))
        var bareOfAlice = bare
        bareOfAlice.metadata.annotations = ["hub.jupyter.org/username": "alice"]
        func identity(_ pod: Pod, _ creator: String) -> PodIdentity {
            PodIdentity.of(creator: creator, annotations: pod.metadata.annotations, config: world.config)
        }
        let cases: [(String, Pod, String)] = [
            ("a notebook", notebookPod(), spawner),
            ("lists the pod has, two containers", withInits, spawner),
            ("MODULEPATH extended", notebookPod(env: [EnvVar(name: "MODULEPATH", value: "/usr/share/modulefiles")], sidecar: true), spawner),
            ("env without MODULEPATH", notebookPod(env: [EnvVar(name: "HOME", value: "/home/jovyan")]), spawner),
            ("MODULEPATH from a secret", notebookPod(env: [EnvVar(name: "MODULEPATH", secret: SecretKeySelector(name: "s", key: "k"))]), spawner),
            ("gpu labels", notebookPod(labels: ["gpu": "true"]), spawner),
            ("a conflict", notebookPod(volumes: [Volume(name: "dv-alice-data", secretName: "mine")],
                                       mounts: [VolumeMount(name: "dv-alice-data", mountPath: "/secret")]), spawner),
            ("forged annotations removed", notebookPod(annotations: [StowageKeys.user: "bob", StowageKeys.injected: "dv/x:rw"]), stranger),
            ("no lists", bareOfAlice, spawner),
            ("user with quotes and a slash", notebookPod(user: "a\"l/i~ce\\"), spawner),
        ]
        // Without annotations the pod gets them as a whole map (the identity as a spawner's
        // pod of alice would have it).
        return cases.map { ($0, $1, identity($1, $2)) }
            + [("no annotations, no lists", bare, PodIdentity(creator: spawner, user: "alice", groups: ["team-a"]))]
    }

    @Test func writtenAsTheValueTreeIsWritten() throws {
        var kinds = Set<String>()
        for (name, pod, identity) in Self.pods() {
            let result = PodMutator.mutate(pod, identity: identity, snapshot: Self.world, settings: settings)
            #expect(!result.patch.isEmpty, "\(name): no patch")
            let expected = JSONText.bytes(result.patch)
            #expect(result.patchText == expected,
                    "\(name):\n\(String(decoding: result.patchText, as: UTF8.self))\n\(String(decoding: expected, as: UTF8.self))")
            for op in result.patch { kinds.insert("\(op.op.rawValue) \(op.path.replacing(/\/[0-9]+(?=\/|$)/, with: "/N"))") }
        }
        // Every kind of step was written.
        for kind in ["add /spec/volumes", "add /spec/volumes/-", "add /spec/containers/N/volumeMounts",
                     "add /spec/containers/N/volumeMounts/-", "add /spec/initContainers", "add /spec/initContainers/N",
                     "add /spec/containers/N/env", "add /spec/containers/N/env/-", "add /spec/containers/N/env/N/value",
                     "add /metadata/annotations", "add /metadata/annotations/stowage.io~1user", "remove /metadata/annotations/stowage.io~1user"] {
            #expect(kinds.contains(kind), "\(kind) not written; written: \(kinds.sorted())")
        }
    }

    @Test func pointerTokensEscapeTildeThenSlash() {
        #expect(JSONPatchOperation.escape("stowage.io/injected") == "stowage.io~1injected")
        #expect(JSONPatchOperation.escape("a~b/c~/") == "a~0b~1c~0~1")
        #expect(JSONPatchOperation.escape("hub.jupyter.org/üser") == "hub.jupyter.org~1üser")
        #expect(JSONPatchOperation.escape("plain") == "plain")
    }

    @Test func base64AsFoundationWritesIt() {
        var generator = SystemRandomNumberGenerator()
        for length in Array(0...64) + [1000, 4095, 4096, 4097] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString(), "\(length) bytes")
        }
    }
}
