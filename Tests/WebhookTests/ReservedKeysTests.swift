import Foundation
import KubeModel
import Logging
import StowageAPI
import Testing
@testable import Webhook

/// `stowage.io/user` and `stowage.io/managed-by` are Stowage's alone (issue 15, item 2): a
/// pod carrying either got it from Stowage, so the homes controller and the consumer count
/// can rely on them.
@Suite("Reserved keys")
struct ReservedKeysTests {
    static let operatorUser = "system:serviceaccount:stowage-system:stowage"
    let snapshot = VolumeSnapshot(config: testConfig())

    func verdict(_ pod: Pod, creator: String) -> Verdict {
        let identity = PodIdentity.of(creator: creator, annotations: pod.metadata.annotations, config: snapshot.config)
        return PodValidator.validate(WorkloadRequest(pod: pod, namespace: "jhub"), identity: identity, snapshot: snapshot, settings: settings)
    }

    @Test func theUserAnnotationMustBeTheIdentityTheWebhookEstablishes() {
        // Established: a trusted spawner's pod whose annotation agrees with the spawner's.
        #expect(verdict(notebookPod(user: "alice", annotations: [StowageKeys.user: "alice"]), creator: spawner).allowed)
        // A plain pod from anyone (no claim, no reserved key) is none of our business.
        #expect(verdict(notebookPod(user: "alice"), creator: stranger).allowed)

        let forged = verdict(notebookPod(user: nil, annotations: [StowageKeys.user: "victim"]), creator: stranger)
        #expect(forged.message == #"pod annotation stowage.io/user is set by Stowage's webhook only, for pods of a trusted spawner; "system:serviceaccount:jhub:someone" is not one, so this pod may not say it belongs to "victim" (remove the annotation)"#)
        // Even a trusted spawner cannot name someone other than its own user annotation does.
        let other = verdict(notebookPod(user: "alice", annotations: [StowageKeys.user: "bob"]), creator: spawner)
        #expect(other.message == #"pod annotation stowage.io/user says "bob", but its trusted spawner's annotation hub.jupyter.org/username names "alice": stowage.io/user is set by Stowage's webhook only"#)
        // The operator names no user either.
        #expect(!verdict(notebookPod(user: nil, annotations: [StowageKeys.user: "victim"]), creator: Self.operatorUser).allowed)
    }

    @Test func theManagedByLabelIsTheOperatorsAlone() {
        let labelled = notebookPod(user: nil, labels: [StowageKeys.managedBy: StowageKeys.managedByValue])
        #expect(verdict(labelled, creator: Self.operatorUser).allowed)
        let v = verdict(labelled, creator: stranger)
        #expect(v.message == #"pod has label stowage.io/managed-by, which marks the Stowage operator's own sync pods and Jobs; "system:serviceaccount:jhub:someone" is not the operator (remove the label)"#)
        // Any value: the consumer count ignores pods with the key at all.
        #expect(!verdict(notebookPod(user: "alice", labels: [StowageKeys.managedBy: "me"]), creator: spawner).allowed)
    }

    @Test func jobsCarryNeitherKeyInTheirTemplate() {
        func judge(_ template: ObjectMeta, creator: String) -> Verdict {
            let job = Job(metadata: ObjectMeta(name: "j", namespace: "jhub"),
                          spec: Job.Spec(template: Job.PodTemplate(metadata: template, spec: PodSpec(containers: [Container(name: "c")]))))
            let identity = PodIdentity.of(creator: creator, annotations: template.annotations, config: snapshot.config)
            return PodValidator.validate(WorkloadRequest(job: job, namespace: "jhub"), identity: identity, snapshot: snapshot, settings: settings)
        }
        #expect(judge(ObjectMeta(labels: ["app": "x"]), creator: stranger).allowed)
        #expect(judge(ObjectMeta(annotations: [StowageKeys.user: "victim"]), creator: stranger).message.hasPrefix("job annotation stowage.io/user is set by Stowage's webhook only"))
        #expect(judge(ObjectMeta(labels: [StowageKeys.managedBy: "stowage"]), creator: stranger).message.hasPrefix("job's pod template has label stowage.io/managed-by"))
        #expect(judge(ObjectMeta(labels: [StowageKeys.managedBy: "stowage"]), creator: Self.operatorUser).allowed)
        // On the Job itself too: the reconciler takes only labelled Jobs for its sync Jobs.
        let labelledJob = Job(metadata: ObjectMeta(name: "j", namespace: "jhub", labels: [StowageKeys.managedBy: "stowage"]),
                              spec: Job.Spec(template: Job.PodTemplate(spec: PodSpec(containers: [Container(name: "c")]))))
        let verdict = PodValidator.validate(WorkloadRequest(job: labelledJob, namespace: "jhub"), identity: PodIdentity(creator: stranger, user: nil),
                                            snapshot: snapshot, settings: settings)
        #expect(verdict.message.hasPrefix("job has label stowage.io/managed-by"), "\(verdict.message)")
    }

    @Test func podsOfAJobWereJudgedWithTheirTemplate() {
        var pod = notebookPod(user: "alice", annotations: [StowageKeys.user: "alice"])
        pod.metadata.ownerReferences = [OwnerReference(apiVersion: "batch/v1", kind: "Job", name: "j", uid: "u")]
        #expect(verdict(pod, creator: "system:serviceaccount:kube-system:job-controller").allowed)
        #expect(!verdict(pod, creator: stranger).allowed)
    }

    // MARK: through the handler: creation without claims, and updates

    let handler = AdmissionHandler(source: FixedSource(snapshot: VolumeSnapshot(config: testConfig())),
                                   settings: settings, logger: Logger(label: "test"))

    func answer(_ body: Data) throws -> JSONValue {
        let reply = handler.handle(method: "POST", uri: "/validate-pods", body: body)
        #expect(reply.status == 200)
        return try JSONDecoder.kube.decode(JSONValue.self, from: reply.body)
    }

    @Test func aPodWithoutClaimsIsStillJudgedForTheReservedKeys() throws {
        let plain = try answer(reviewBody(kind: "Pod", user: stranger, object: notebookPod(user: nil)))
        #expect(plain["response"]?["allowed"] == true)
        let forged = try answer(reviewBody(kind: "Pod", user: stranger, object: notebookPod(user: nil, annotations: [StowageKeys.user: "victim"])))
        #expect(forged["response"]?["allowed"] == false)
        #expect(forged["response"]?["status"]?["code"] == 403)
        #expect(forged["response"]?["status"]?["message"]?.stringValue?.contains(#"may not say it belongs to "victim""#) == true)
    }

    @Test func updatesMayNotAddOrChangeTheReservedKeys() throws {
        let old = notebookPod(user: "alice", annotations: [StowageKeys.user: "alice"])
        func update(_ change: (inout Pod) -> Void, by user: String = stranger) throws -> JSONValue {
            var new = old
            change(&new)
            return try answer(reviewBody(kind: "Pod", operation: "UPDATE", user: user, object: new, oldObject: old))
        }
        // Other edits, and removals, pass.
        #expect(try update({ $0.metadata.labels?["x"] = "y" })["response"]?["allowed"] == true)
        #expect(try update({ $0.metadata.annotations?[StowageKeys.user] = nil })["response"]?["allowed"] == true)
        let changed = try update({ $0.metadata.annotations?[StowageKeys.user] = "victim" })
        #expect(changed["response"]?["allowed"] == false)
        #expect(changed["response"]?["status"]?["message"] == #"pod annotation stowage.io/user may not be added or changed after creation ("alice" to "victim"): it is set by Stowage's webhook only"#)
        let labelled = try update({ $0.metadata.labels?[StowageKeys.managedBy] = "stowage" })
        #expect(labelled["response"]?["status"]?["message"]?.stringValue?.hasPrefix(#"pod label stowage.io/managed-by may not be added or changed (unset to "stowage")"#) == true)
        #expect(try update({ $0.metadata.labels?[StowageKeys.managedBy] = "stowage" }, by: Self.operatorUser)["response"]?["allowed"] == true)
    }
}
