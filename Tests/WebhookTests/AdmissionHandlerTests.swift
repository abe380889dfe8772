import Foundation
import KubeModel
import Logging
import StowageAPI
import Testing
@testable import Webhook

@Suite("AdmissionHandler")
struct AdmissionHandlerTests {
    let handler = AdmissionHandler(
        source: FixedSource(snapshot: VolumeSnapshot(config: testConfig(), dataVolumes: [
            dataVolume("home-bob", owner: "bob", users: ["bob"], path: "/home/jovyan"),
        ])),
        settings: settings, logger: Logger(label: "test"))

    func post(_ path: String, _ body: Data) -> WebhookReply { handler.handle(method: "POST", uri: path, body: body) }

    func review(_ reply: WebhookReply) throws -> JSONValue {
        #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
        return try JSONDecoder.kube.decode(JSONValue.self, from: reply.body)
    }

    @Test(arguments: [
        ("", "empty body"),
        ("not json", "malformed AdmissionReview"),
        ("[]", "malformed AdmissionReview"),
        ("{}", "expected apiVersion admission.k8s.io/v1"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#, "no request"),
        (#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","userInfo":{}}}"#, "admission.k8s.io/v1beta1"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"group":"","version":"v1","kind":"Pod"}}}"#, "request.uid: required field missing"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}"#, "request.uid: expected String"),
        (#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"#, "malformed AdmissionReview"),
    ])
    func malformedBodiesGet400WithAReason(body: String, reason: String) {
        for path in AdmissionHandler.paths {
            let reply = post(path, Data(body.utf8))
            let text = String(decoding: reply.body, as: UTF8.self)
            #expect(reply.status == 400, "\(path) \(body): \(text)")
            #expect(text.contains(reason), "\(path) \(body): \(text)")
        }
    }

    @Test func unreadableObjectWithReadableEnvelopeIsDeniedWithTheReason() throws {
        let body = #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","userInfo":{"username":"x"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{},"spec":{"containers":"nope"}}}}"#
        let answer = try review(post("/mutate-pods", Data(body.utf8)))
        #expect(answer["response"]?["uid"] == "u1")
        #expect(answer["response"]?["allowed"] == false)
        #expect(answer["response"]?["status"]?["message"]?.stringValue?.contains("spec.containers") == true)
    }

    @Test func routing() {
        #expect(handler.handle(method: "GET", uri: "/healthz", body: Data()).status == 200)
        #expect(handler.handle(method: "GET", uri: "/readyz", body: Data()).status == 200)
        #expect(handler.handle(method: "POST", uri: "/mutate", body: Data()).status == 404)
        #expect(handler.handle(method: "GET", uri: "/mutate-pods", body: Data()).status == 405)
        let cold = AdmissionHandler(source: FixedSource(snapshot: VolumeSnapshot(config: .empty), isReady: false),
                                    settings: settings, logger: Logger(label: "test"))
        #expect(cold.handle(method: "GET", uri: "/readyz", body: Data()).status == 503)
        #expect(cold.handle(method: "POST", uri: "/validate-pods", body: Data("{}".utf8)).status == 503)
    }

    @Test func mutationAnswersWithABase64JSONPatchAndWarnings() throws {
        let pod = notebookPod(volumes: [Volume(name: "x", claimName: "c")], mounts: [VolumeMount(name: "x", mountPath: "/home/jovyan")])
        let answer = try review(post("/mutate-pods?timeout=10s", try reviewBody(kind: "Pod", user: spawner, object: pod)))
        let response = try #require(answer["response"])
        #expect(response["allowed"] == true)
        #expect(response["patchType"] == "JSONPatch")
        let patch = try #require(response["patch"]?.stringValue.flatMap { Data(base64Encoded: $0) })
        let operations = try JSONDecoder().decode([JSONPatchOperation].self, from: patch)
        #expect(operations.contains { $0.path == "/metadata/annotations/stowage.io~1user" })
        let warnings = "\(response["warnings"] ?? .null)"
        #expect(warnings.contains("mount path /home/jovyan"))
    }

    @Test func untouchedPodGetsNoPatch() throws {
        let answer = try review(post("/mutate-pods", try reviewBody(kind: "Pod", user: stranger, object: notebookPod())))
        #expect(answer["response"]?["allowed"] == true)
        #expect(answer["response"]?["patch"] == nil)
    }

    @Test func validationDeniesWith403AndTheMessage() throws {
        let pod = notebookPod(volumes: [Volume(name: "h", claimName: "dv-home-bob")], mounts: [VolumeMount(name: "h", mountPath: "/h")])
        let answer = try review(post("/validate-pods", try reviewBody(kind: "Pod", user: spawner, object: pod)))
        #expect(answer["response"]?["allowed"] == false)
        #expect(answer["response"]?["status"]?["code"] == 403)
        #expect(answer["response"]?["status"]?["message"] == #"pod mounts DataVolume "home-bob" (claim dv-home-bob) of user "bob": user "alice" is not entitled"#)
        // Updates cannot change volumes: allowed.
        let update = try review(post("/validate-pods", try reviewBody(kind: "Pod", operation: "UPDATE", user: spawner, object: pod)))
        #expect(update["response"]?["allowed"] == true)
    }

    @Test func jobsGoThroughValidatePods() throws {
        let template = Job.PodTemplate(spec: PodSpec(containers: [Container(name: "c")], volumes: [Volume(name: "d", claimName: "dv-home-bob")]))
        let job = Job(metadata: ObjectMeta(name: "j", namespace: "jhub"), spec: Job.Spec(template: template))
        let answer = try review(post("/validate-pods", try reviewBody(kind: "Job", group: "batch", user: stranger, object: job)))
        #expect(answer["response"]?["allowed"] == false)
        #expect(answer["response"]?["status"]?["message"]?.stringValue?.hasPrefix("job mounts DataVolume") == true)
    }

    @Test func volumeValidationCarriesCauses() throws {
        var volume = dataVolume("x", owner: "alice")
        volume.spec.size = "lots"
        let body = try reviewBody(kind: "DataVolume", group: "stowage.io", version: "v1alpha1", user: "alice", object: volume)
        let answer = try review(post("/validate-volumes", body))
        #expect(answer["response"]?["allowed"] == false)
        #expect(answer["response"]?["status"]?["code"] == 422)
        let details = "\(answer["response"]?["status"]?["details"] ?? .null)"
        #expect(details.contains("spec.size"))
        // A metadata-only update of an invalid object (the operator removing its finalizer) passes.
        let update = try reviewBody(kind: "DataVolume", group: "stowage.io", version: "v1alpha1", operation: "UPDATE",
                                    user: "op", object: volume, oldObject: volume)
        #expect(try review(post("/validate-volumes", update))["response"]?["allowed"] == true)
        let share = sharedVolume("s", level: "nope")
        let shareBody = try reviewBody(kind: "SharedVolume", group: "stowage.io", version: "v1alpha1", user: "alice", object: share)
        #expect(try review(post("/validate-volumes", shareBody))["response"]?["status"]?["message"]?.stringValue?.contains("spec.accessLevel") == true)
    }
}

extension AdmissionHandlerTests {
    @Test func anUpdateMayGrowAVolumeButNotShrinkItOrChangeItsClass() throws {
        func answer(_ old: DataVolume, _ new: DataVolume) throws -> JSONValue {
            try review(post("/validate-volumes", try reviewBody(kind: "DataVolume", group: "stowage.io", version: "v1alpha1",
                                                                 operation: "UPDATE", user: "alice", object: new, oldObject: old)))
        }
        var old = dataVolume("x", owner: "alice")
        old.spec.size = "2Gi"
        var grown = old
        grown.spec.size = "3Gi"
        #expect(try answer(old, grown)["response"]?["allowed"] == true)
        var shrunk = old
        shrunk.spec.size = "1Gi"
        let refused = try answer(old, shrunk)
        #expect(refused["response"]?["allowed"] == false)
        #expect(refused["response"]?["status"]?["message"]?.stringValue?.contains("spec.size: cannot shrink from 2Gi to 1Gi") == true)
        var moved = old
        moved.spec.storageClassName = "fast"
        #expect(try answer(old, moved)["response"]?["status"]?["message"]?.stringValue?
            .contains("spec.storageClassName: cannot change once the claim exists (was unset, now fast)") == true)
        // Created small is fine: only updates compare.
        #expect(try review(post("/validate-volumes", try reviewBody(kind: "DataVolume", group: "stowage.io", version: "v1alpha1",
                                                                     user: "alice", object: shrunk)))["response"]?["allowed"] == true)
    }

    @Test func aShareOnlyGrowsToo() {
        let old = SharedVolume(name: "s", spec: SharedVolumeSpec(size: "10Gi", accessLevel: "public"))
        var shrunk = old
        shrunk.spec.size = "10G"
        #expect(shrunk.validateUpdate(from: old) == [FieldError("spec.size", "cannot shrink from 10Gi to 10G: a claim only grows (set 10Gi or more)")])
        var grown = old
        grown.spec.size = "11Gi"
        #expect(grown.validateUpdate(from: old).isEmpty)
    }
}

@Suite("JSONText")
struct JSONTextTests {
    @Test func patchTextDecodesToTheSameOperations() throws {
        let patch: [JSONPatchOperation] = [
            .add("/metadata/annotations/stowage.io~1user", "al\"ice\\\n\u{1}é"),
            .remove("/metadata/annotations/x"),
            .add("/spec/volumes", [["name": "v", "n": 3, "f": .number(1.5), "b": false, "z": nil, "a": []]]),
        ]
        let decoded = try JSONDecoder().decode([JSONPatchOperation].self, from: Data(JSONText.encode(patch).utf8))
        #expect(decoded == patch)
    }
}
