import Foundation
import KubeModel
import Logging
import StowageAPI
import Testing
@testable import Webhook

/// `/validate-pods` answers a review that names no Stowage claim from the parsed tree, without
/// decoding the pod: these tests hold that answer to the full path's, review by review.
@Suite("Validation fast path")
struct ClaimFreeAnswerTests {
    let handler = AdmissionHandler(
        source: FixedSource(snapshot: VolumeSnapshot(config: testConfig(), dataVolumes: [
            dataVolume("home-bob", owner: "bob", users: ["bob"], path: "/home/jovyan"),
        ], sharedVolumes: [sharedVolume("tools", level: "public")])),
        settings: settings, logger: Logger(label: "test"))

    static func tree(_ body: Data) throws -> JSONValue { try JSONValue(parsing: body) }

    static func pod(volumes: [Volume]?, user: String = "alice") -> Pod {
        notebookPod(user: user, volumes: volumes, mounts: volumes?.map { VolumeMount(name: $0.name, mountPath: "/mnt/\($0.name)") })
    }

    static func configMapVolume() -> Volume {
        var volume = Volume(name: "files", claimName: "unused")
        volume.persistentVolumeClaim = nil
        volume.configMap = ["name": "etc"]
        return volume
    }

    static func job(volumes: [Volume]) -> Job {
        let template = Job.PodTemplate(spec: PodSpec(containers: [Container(name: "c")], volumes: volumes))
        return Job(metadata: ObjectMeta(name: "j", namespace: "jhub"), spec: Job.Spec(template: template))
    }

    static func replacing(_ body: Data, at path: [String], with value: JSONValue?) throws -> Data {
        func set(_ node: JSONValue, _ path: ArraySlice<String>) -> JSONValue {
            guard let key = path.first, case .object(var fields) = node else { return value ?? .null }
            fields[key] = path.count == 1 ? value : set(fields[key] ?? .object([:]), path.dropFirst())
            return .object(fields)
        }
        return Data(set(try tree(body), path[...]).text.utf8)
    }

    /// Reviews no Stowage claim is named in: each must be answered at once, as the full path does.
    static func claimFree() throws -> [(String, Data)] {
        let configMap = configMapVolume()
        var cases: [(String, Data)] = [
            ("no volumes", try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: nil))),
            ("empty volumes", try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: []))),
            ("configMap volume", try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: [configMap]))),
            ("claims outside the reserved prefixes", try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: [
                Volume(name: "a", claimName: "data"), Volume(name: "b", claimName: "dv-"), Volume(name: "c", claimName: "shv-"),
                Volume(name: "d", claimName: "dvx-home-bob"), Volume(name: "e", claimName: "DV-home-bob"),
                Volume(name: "f", claimName: "my-dv-home-bob"),
            ]))),
            ("stranger's pod", try reviewBody(kind: "Pod", user: stranger, object: pod(volumes: [Volume(name: "a", claimName: "data")]))),
            ("update", try reviewBody(kind: "Pod", operation: "UPDATE", user: spawner, object: pod(volumes: [configMap]))),
            ("job without claims", try reviewBody(kind: "Job", group: "batch", user: stranger,
                                                  object: job(volumes: [Volume(name: "s", claimName: "scratch")]))),
        ]
        let job = try reviewBody(kind: "Job", group: "batch", user: stranger, object: job(volumes: []))
        cases.append(("job without spec", try replacing(job, at: ["request", "object", "spec"], with: nil)))
        let plain = try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: nil))
        cases.append(("pod without spec", try replacing(plain, at: ["request", "object", "spec"], with: nil)))
        cases.append(("null volumes", try replacing(plain, at: ["request", "object", "spec", "volumes"], with: .null)))
        cases.append(("null claim source", try replacing(plain, at: ["request", "object", "spec", "volumes"],
                                                          with: [["name": "v", "persistentVolumeClaim": nil]])))
        cases.append(("delete, no object", try replacing(plain, at: ["request", "object"], with: nil)))
        cases.append(("null object", try replacing(plain, at: ["request", "object"], with: .null)))
        return cases
    }

    /// Reviews that must take the full path: they name a Stowage claim, or their envelope or
    /// volumes do not read as the full path reads them.
    static func fullWay() throws -> [(String, Data)] {
        let home = Volume(name: "h", claimName: "dv-home-bob")
        let plain = try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: nil))
        return [
            ("DataVolume claim", try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: [home]))),
            ("the owner's DataVolume claim", try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: [home], user: "bob"))),
            ("SharedVolume claim", try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: [Volume(name: "t", claimName: "shv-tools")]))),
            ("missing volume", try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: [Volume(name: "m", claimName: "dv-nope")]))),
            ("claim after others", try reviewBody(kind: "Pod", user: spawner, object: pod(volumes: [
                configMapVolume(), Volume(name: "a", claimName: "data"), home,
            ]))),
            ("update naming a claim", try reviewBody(kind: "Pod", operation: "UPDATE", user: spawner, object: pod(volumes: [home]))),
            ("job naming a claim", try reviewBody(kind: "Job", group: "batch", user: stranger, object: job(volumes: [home]))),
            ("volumes not a list", try replacing(plain, at: ["request", "object", "spec", "volumes"], with: "x")),
            ("volume not an object", try replacing(plain, at: ["request", "object", "spec", "volumes"], with: ["x"])),
            ("claim source without a name", try replacing(plain, at: ["request", "object", "spec", "volumes"],
                                                          with: [["name": "v", "persistentVolumeClaim": ["readOnly": true]]])),
            ("spec not an object", try replacing(plain, at: ["request", "object", "spec"], with: 3)),
            ("object not an object", try replacing(plain, at: ["request", "object"], with: "pod")),
            ("job template missing", try replacing(try reviewBody(kind: "Job", group: "batch", user: stranger, object: job(volumes: [])),
                                                   at: ["request", "object", "spec", "template"], with: nil)),
            ("job template without spec", try replacing(try reviewBody(kind: "Job", group: "batch", user: stranger, object: job(volumes: [])),
                                                        at: ["request", "object", "spec", "template", "spec"], with: .null)),
            ("kind not a string", try replacing(plain, at: ["request", "object", "kind"], with: 5)),
            // Keys only Stowage may write are judged even without a claim (ReservedKeys).
            ("forged user annotation", try replacing(plain, at: ["request", "object", "metadata", "annotations"],
                                                     with: JSONValue.object([StowageKeys.user: "victim"]))),
            ("managed-by label", try replacing(plain, at: ["request", "object", "metadata", "labels"],
                                               with: JSONValue.object([StowageKeys.managedBy: "stowage"]))),
            ("update dropping the user annotation", try replacing(
                try reviewBody(kind: "Pod", operation: "UPDATE", user: spawner, object: pod(volumes: nil)),
                at: ["request", "oldObject"], with: ["metadata": ["annotations": JSONValue.object([StowageKeys.user: "alice"])]])),
            ("v1beta1", try replacing(plain, at: ["apiVersion"], with: "admission.k8s.io/v1beta1")),
            ("no uid", try replacing(plain, at: ["request", "uid"], with: nil)),
            ("uid a number", try replacing(plain, at: ["request", "uid"], with: 7)),
            ("not a review", try replacing(plain, at: ["kind"], with: "Pod")),
        ]
    }

    func sameAnswer(_ name: String, _ body: Data) throws {
        let tree = try Self.tree(body)
        let quick = handler.validatePods(tree, quick: true)
        try expectSameReply(quick, handler.validatePods(tree, quick: false), name)
        // And through the public entry point, which takes the quick way.
        #expect(handler.handle(method: "POST", uri: "/validate-pods", body: body).body == quick.body, "\(name)")
    }

    @Test func podsNamingNoClaimAreAnsweredAtOnceAsTheFullPathAnswers() throws {
        for (name, body) in try Self.claimFree() {
            let answer = try #require(AdmissionHandler.claimFreeAnswer(try Self.tree(body)), "\(name): not answered at once")
            #expect(answer.response.allowed, "\(name)")
            #expect(answer.response.uid == "uid-1", "\(name)")
            try sameAnswer(name, body)
        }
    }

    @Test func podsNamingAClaimAndUnreadableReviewsTakeTheFullPath() throws {
        for (name, body) in try Self.fullWay() {
            #expect(AdmissionHandler.claimFreeAnswer(try Self.tree(body)) == nil, "\(name): answered at once")
            try sameAnswer(name, body)
        }
        // The full path did decide: these are refused, for the reasons it gives.
        let denied = try Self.fullWay().filter { ["DataVolume claim", "missing volume", "job naming a claim"].contains($0.0) }
        for (name, body) in denied {
            let answer = try JSONValue(parsing: handler.handle(method: "POST", uri: "/validate-pods", body: body).body)
            #expect(answer["response"]?["allowed"] == false, "\(name)")
            #expect(answer["response"]?["status"]?["code"] == 403, "\(name)")
        }
    }

    @Test func aClaimFreePodIsNotDecoded() throws {
        // Containers that would not decode are never read when no claim is named: the answer
        // comes from the envelope and the volumes alone. (The API server checks a pod's
        // schema before any validating webhook sees it.)
        let body = try Self.replacing(try reviewBody(kind: "Pod", user: spawner, object: Self.pod(volumes: nil)),
                                      at: ["request", "object", "spec", "containers"], with: "nope")
        let tree = try Self.tree(body)
        #expect(AdmissionHandler.claimFreeAnswer(tree)?.response.allowed == true)
        let full = try JSONValue(parsing: handler.validatePods(tree, quick: false).body)
        #expect(full["response"]?["status"]?["message"]?.stringValue?.contains("spec.containers") == true)
    }
}

@Suite("ReviewReply text")
struct ReviewReplyTextTests {
    static let replies: [ReviewReply] = {
        var patched = ReviewReply.allow(uid: "u/1", warnings: ["stowage: skipped \"dv/x\"\n", "é\u{1}"])
        patched.response.patchType = "JSONPatch"
        patched.response.patch = Data(#"[{"op":"add","path":"/a","value":1}]"#.utf8).base64EncodedString()
        return [
            .allow(uid: "u1"),
            patched,
            .deny(uid: "u2", code: 403, reason: "Forbidden", message: #"pod mounts "x": user "a\b" is not entitled"#),
            .deny(uid: "u3", code: 422, reason: "Invalid", message: "m", causes: [
                FieldError("spec.size", "not a quantity"), FieldError("spec.mount.path", "\"rel\""),
            ], kind: "DataVolume", name: "x"),
            .deny(uid: "u4", code: 422, reason: "Invalid", message: "m", causes: [FieldError("f", "g")]),
        ]
    }()

    @Test func writtenAsJSONEncoderWritesIt() throws {
        for reply in Self.replies {
            let expected = try JSONValue(parsing: try JSONEncoder().encode(reply))
            #expect(try JSONValue(parsing: Data(reply.bytes)) == expected, "\(expected)")
        }
    }
}
