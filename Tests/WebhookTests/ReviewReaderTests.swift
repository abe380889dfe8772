import Foundation
import KubeModel
import Logging
import StowageAPI
import Testing
@testable import Webhook

/// Pod reviews are read by `ReviewReader` straight from the bytes, for what the decisions
/// need; anything it does not take goes the full way (`JSONValue` tree and `Decodable`).
/// These tests hold the two ways to each other: the same fields, the same answers, and
/// for every body the reader leaves alone, the full way's answer.
@Suite("Review reader")
struct ReviewReaderTests {
    static let config = testConfig()
    let handler = AdmissionHandler(
        source: FixedSource(snapshot: VolumeSnapshot(config: config, dataVolumes: [
            dataVolume("home-bob", owner: "bob", users: ["bob"], path: "/home/jovyan"),
            dataVolume("data", owner: "alice", users: ["alice"], path: "/data", source: true, phase: .idle),
        ], sharedVolumes: [
            sharedVolume("tools", level: "public", purpose: .software),
            sharedVolume("team", level: "private", members: [Member(group: "team-a", access: .readWrite)]),
        ])),
        settings: settings, logger: Logger(label: "test"))

    // MARK: bodies

    static func text(_ body: Data) -> String { String(decoding: body, as: UTF8.self) }

    /// A pod as the API server sends it, with what the reader skips (resources, security
    /// contexts, tolerations, status) and what it reads (volumes of every kind, mounts,
    /// environment with `valueFrom`, init containers, owners).
    static func fullPod(user: String = "alice", claims: [(String, Bool)] = [], annotations: [String: String] = [:],
                        labels: [String: String] = [:]) -> JSONValue {
        var volumes: [JSONValue] = [["name": "files", "configMap": ["name": "etc", "defaultMode": 420]], ["name": "scratch", "emptyDir": [:]]]
        var mounts: [JSONValue] = [["name": "files", "mountPath": "/etc/jupyter", "subPath": "config.py", "readOnly": true]]
        for (i, (claim, readOnly)) in claims.enumerated() {
            volumes.append(["name": .string("v\(i)"), "persistentVolumeClaim": ["claimName": .string(claim), "readOnly": .bool(readOnly)]])
            mounts.append(["name": .string("v\(i)"), "mountPath": .string("/mnt/v\(i)"), "readOnly": .bool(readOnly)])
        }
        let env: [JSONValue] = [
            ["name": "JUPYTERHUB_USER", "value": .string(user)],
            ["name": "JUPYTERHUB_API_TOKEN", "valueFrom": ["secretKeyRef": ["name": "token", "key": "t"]]],
            ["name": "FROM_CONFIG", "valueFrom": ["configMapKeyRef": ["name": "c", "key": "k"]]],
            ["name": "MAYBE", "valueFrom": ["secretKeyRef": ["name": "s", "key": "k", "optional": true]]],
            ["name": "EMPTY", "value": nil],
            ["name": "MODULEPATH", "value": "/usr/share/modulefiles"],
        ]
        return [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": [
                "generateName": .string("jupyter-\(user)-"), "namespace": "jhub",
                "creationTimestamp": nil, "uid": "0b1c",
                "labels": .object(["component": "singleuser-server"].merging(labels.mapValues(JSONValue.string)) { $1 }),
                "annotations": .object(["hub.jupyter.org/username": .string(user)].merging(annotations.mapValues(JSONValue.string)) { $1 }),
                "ownerReferences": [["apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u", "controller": false]],
                "managedFields": [["manager": "kubectl", "fieldsV1": ["f:spec": [:]]]],
            ],
            "spec": [
                "securityContext": ["fsGroup": 100, "runAsUser": 1000],
                "initContainers": [["name": "block", "image": "tools", "command": ["iptables"],
                                    "volumeMounts": [["name": "scratch", "mountPath": "/s"]]]],
                "containers": [
                    ["name": "notebook", "image": "jupyter", "args": ["start"], "env": .array(env),
                     "resources": ["limits": ["cpu": "2", "memory": "4Gi"]], "volumeMounts": .array(mounts),
                     "ports": [["containerPort": 8888, "protocol": "TCP"]], "securityContext": ["allowPrivilegeEscalation": false]],
                    ["name": "sidecar", "image": "busybox"],
                ],
                "volumes": .array(volumes),
                "tolerations": [["key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"]],
                "affinity": ["nodeAffinity": [:]],
            ],
            "status": ["phase": "Pending"],
        ]
    }

    static func job(claims: [String], templateAnnotations: [String: String] = [:]) -> JSONValue {
        let volumes = JSONValue.array(claims.enumerated().map { ["name": .string("v\($0)"), "persistentVolumeClaim": ["claimName": .string($1)]] })
        return [
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": ["name": "j", "namespace": "jhub", "labels": ["app": "batch"]],
            "spec": ["backoffLimit": 2, "template": [
                "metadata": ["labels": ["app": "batch"], "annotations": .object(templateAnnotations.mapValues(JSONValue.string))],
                "spec": ["containers": [["name": "c", "image": "x", "volumeMounts": []]], "volumes": volumes, "restartPolicy": "Never"],
            ]],
        ]
    }

    static func review(_ object: JSONValue?, old: JSONValue? = nil, operation: String = "CREATE", user: String = spawner,
                       kind: String = "Pod") -> JSONValue {
        var request: [String: JSONValue] = [
            "uid": "uid-1", "kind": ["group": "", "version": "v1", "kind": .string(kind)],
            "resource": ["group": "", "version": "v1", "resource": "pods"], "namespace": "jhub", "operation": .string(operation),
            "userInfo": ["username": .string(user), "uid": "9", "groups": ["system:authenticated"]],
            "options": ["apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"], "dryRun": false,
        ]
        request["object"] = object ?? .null
        request["oldObject"] = old ?? .null
        return ["apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": .object(request)]
    }

    static func body(_ review: JSONValue) -> Data { Data(review.text.utf8) }

    /// Bodies the reader takes: realistic pods and Jobs, creations and updates.
    static func readable() -> [(String, Data)] {
        [
            ("claim-free pod", body(review(fullPod()))),
            ("pod with claims", body(review(fullPod(claims: [("dv-data", false), ("shv-tools", true), ("other", false)])))),
            ("the owner's home", body(review(fullPod(user: "bob", claims: [("dv-home-bob", false)])))),
            ("someone else's home", body(review(fullPod(claims: [("dv-home-bob", false)])))),
            ("a missing volume", body(review(fullPod(claims: [("dv-nope", false)])))),
            ("read-write where only read is granted", body(review(fullPod(claims: [("shv-tools", false)])))),
            ("a stranger's pod", body(review(fullPod(claims: [("shv-tools", true)]), user: stranger))),
            ("forged user annotation", body(review(fullPod(annotations: [StowageKeys.user: "bob"]), user: stranger))),
            ("managed-by label", body(review(fullPod(labels: [StowageKeys.managedBy: "stowage"])))),
            ("update adding the user annotation", body(review(fullPod(annotations: [StowageKeys.user: "alice"]), old: fullPod(),
                                                              operation: "UPDATE", user: stranger))),
            ("update dropping the user annotation", body(review(fullPod(), old: fullPod(annotations: [StowageKeys.user: "alice"]),
                                                                operation: "UPDATE"))),
            ("job with a claim", body(review(job(claims: ["dv-home-bob"]), user: stranger, kind: "Job"))),
            ("job without claims", body(review(job(claims: ["scratch"]), user: stranger, kind: "Job"))),
            ("job template with a forged user", body(review(job(claims: [], templateAnnotations: [StowageKeys.user: "bob"]),
                                                            user: stranger, kind: "Job"))),
            ("delete", body(review(nil, old: fullPod(), operation: "DELETE"))),
        ]
    }

    /// Replaces the first occurrence of `old` in the body's text with `new`.
    static func edit(_ body: Data, _ old: String, _ new: String) -> Data {
        edit(body, old, bytes: Array(new.utf8))
    }

    static func edit(_ body: Data, _ old: String, bytes new: [UInt8]) -> Data {
        guard let range = body.firstRange(of: Data(old.utf8)) else { preconditionFailure("\(old) not in the body") }
        var edited = body
        edited.replaceSubrange(range, with: new)
        return edited
    }

    /// Bodies the reader leaves to the full way: malformed JSON, fields it reads of another
    /// type or given twice, field names with escapes, required fields missing.
    static func leftToTheFullWay() -> [(String, Data)] {
        let claimFree = body(review(fullPod()))
        let claimed = body(review(fullPod(claims: [("dv-home-bob", false)])))
        let claimText = #"{"name":"v0","persistentVolumeClaim":{"claimName":"dv-home-bob","readOnly":false}}"#
        return [
            ("truncated", claimFree.prefix(claimFree.count - 3)),
            ("trailing data", claimFree + Data(" x".utf8)),
            ("bad escape in a skipped field", edit(claimFree, #""image":"jupyter""#, #""image":"jup\yter""#)),
            ("control character in a skipped field", edit(claimFree, #""image":"jupyter""#, "\"image\":\"ju\u{1}\"")),
            ("invalid UTF-8 in a skipped field", edit(claimFree, #""image":"busybox""#, bytes: Array(#""image":"bus"#.utf8) + [0xC3, 0x22])),
            ("nesting too deep in a skipped field", edit(claimFree, #""affinity":{"nodeAffinity":{}}"#,
                                                         #""affinity":"# + String(repeating: "[", count: 520) + String(repeating: "]", count: 520))),
            ("volumes given twice, the first claim-free", edit(claimed, #""volumes":["#, #""volumes":[],"volumes":["#)),
            ("volumes given twice, the first with a claim", edit(claimFree, #""volumes":["#, #""volumes":[\#(claimText)],"volumes":["#)),
            ("annotations given twice", edit(body(review(fullPod(annotations: [StowageKeys.user: "bob"]), user: stranger)),
                                             #""annotations":{"#, #""annotations":{},"annotations":{"#)),
            ("object given twice", edit(claimed, #""object":{"#, #""object":{"apiVersion":"v1","kind":"Pod","metadata":{}},"object":{"#)),
            ("escaped field name", edit(claimed, #""volumes":"#, #""vol\u0075mes":"#)),
            ("claim name not a string", edit(claimed, #""claimName":"dv-home-bob""#, #""claimName":7"#)),
            ("readOnly not a boolean", edit(claimed, #""readOnly":false}}"#, #""readOnly":"no"}}"#)),
            ("label not a string", edit(claimFree, #""component":"singleuser-server""#, #""component":1"#)),
            ("containers not a list", edit(claimed, #""containers":["#, #""containers":"nope","x":["#)),
            ("volume without a name", edit(claimed, #"{"name":"v0","persistentVolumeClaim""#, #"{"persistentVolumeClaim""#)),
            ("metadata null", edit(claimed, #""metadata":{"annotations""#, #""metadata":null,"m":{"annotations""#)),
            ("kind missing", edit(claimed, #""kind":"Pod","metadata""#, #""metadata""#)),
            ("owner reference without a uid", edit(claimed, #","uid":"u"}"#, "}")),
            ("uid a number", edit(claimed, #""uid":"uid-1""#, #""uid":1"#)),
            ("userInfo missing", edit(claimed, #""userInfo":"#, #""user":"#)),
        ]
    }

    /// Bodies whose only fault is in what the mutation reads of the containers'
    /// environment (the list, the variables' names, `MODULEPATH`): the pod reader leaves
    /// them to the full way, the workload reader skips `env`.
    static func environmentFaults() -> [(String, Data)] {
        let claimFree = body(review(fullPod()))
        return [
            ("MODULEPATH a number", edit(claimFree, #""value":"/usr/share/modulefiles""#, #""value":7"#)),
            ("MODULEPATH from a secret reference without a key",
             edit(claimFree, #""value":"/usr/share/modulefiles""#, #""valueFrom":{"secretKeyRef":{"name":"token"}}"#)),
            ("a name not a string", edit(claimFree, #""name":"EMPTY""#, #""name":1"#)),
            ("env not a list", edit(claimFree, #""env":["#, #""env":"nope","x":["#)),
        ]
    }

    /// Bodies whose only fault is in the values of variables other than `MODULEPATH`, which
    /// no decision reads: both readers skip them.
    static func otherValueFaults() -> [(String, Data)] {
        let claimFree = body(review(fullPod()))
        return [
            ("secret reference without a key", edit(claimFree, #"{"key":"t","name":"token"}"#, #"{"name":"token"}"#)),
            ("env value a number", edit(claimFree, #""value":"alice""#, #""value":7"#)),
        ]
    }

    // MARK: tests

    func expectSameAnswer(_ name: String, _ body: Data, path: String) throws {
        try expectSameReply(handler.handle(method: "POST", uri: path, body: body, reading: .lean),
                            handler.handle(method: "POST", uri: path, body: body, reading: .full), "\(name) \(path)")
    }

    /// The fields the decisions read, from a Pod as `Decodable` reads it: what the reader
    /// must yield.
    static func decisionFields(_ pod: Pod) -> Pod {
        var meta = ObjectMeta(name: pod.metadata.name, namespace: pod.metadata.namespace,
                              labels: pod.metadata.labels, annotations: pod.metadata.annotations)
        meta.generateName = pod.metadata.generateName
        meta.ownerReferences = pod.metadata.ownerReferences
        var read = Pod(metadata: meta, spec: PodSpec(containers: []))
        (read.apiVersion, read.kind) = (pod.apiVersion, pod.kind)
        read.spec = pod.spec.map { spec in
            func container(_ c: Container) -> Container {
                var read = Container(name: c.name)
                // Of the environment, the names, and only MODULEPATH's value.
                (read.volumeMounts, read.env) = (c.volumeMounts, c.env?.map { $0.name == PodMutator.modulePath ? $0 : EnvVar(name: $0.name, value: nil) })
                return read
            }
            return PodSpec(containers: spec.containers.map(container), initContainers: spec.initContainers?.map(container),
                           volumes: spec.volumes?.map { Volume(name: $0.name, persistentVolumeClaim: $0.persistentVolumeClaim) })
        }
        return read
    }

    @Test func readsThePodAsDecodableReadsTheFieldsDecisionsUse() throws {
        for (name, body) in Self.readable() where !name.hasPrefix("job") {
            let full = try JSONValue(parsing: body).decode(as: ReviewEnvelope<Pod>.self)
            let lean = try #require(ReviewReader.pod(body), "\(name): not read")
            #expect(lean.apiVersion == full.apiVersion && lean.kind == full.kind, "\(name)")
            let (l, f) = (try #require(lean.request), try #require(full.request))
            #expect(l.uid == f.uid && l.kind == f.kind && l.name == f.name && l.namespace == f.namespace, "\(name)")
            #expect(l.operation == f.operation && l.userInfo == f.userInfo && l.dryRun == f.dryRun, "\(name)")
            #expect(l.object.map(\.metadata) == f.object.map { Self.decisionFields($0).metadata }, "\(name)")
            #expect(l.object?.spec == f.object.flatMap { Self.decisionFields($0).spec }, "\(name)")
            #expect(l.oldObject?.spec == f.oldObject.flatMap { Self.decisionFields($0).spec }, "\(name)")
            #expect(l.object?.apiVersion == f.object?.apiVersion && l.object?.kind == f.object?.kind, "\(name)")
        }
    }

    @Test func readsAJobByItsKindWhereverTheKindIs() throws {
        let job = Self.job(claims: ["dv-home-bob"], templateAnnotations: ["a": "b"])
        let kindFirst = Self.body(Self.review(job, user: stranger, kind: "Job"))
        // Kubernetes writes kind first; this body has it last, after the spec.
        guard case .object(var fields) = job else { preconditionFailure() }
        fields["kind"] = nil
        let kindLastJob = JSONValue.object(fields).text.dropLast() + #","kind":"Job"}"#
        let kindLast = Self.edit(Self.body(Self.review("JOB", user: stranger, kind: "Job")), #""JOB""#, String(kindLastJob))
        for body in [kindFirst, kindLast] {
            let lean = try #require(ReviewReader.workload(body))
            let full = try JSONValue(parsing: body).decode(as: ReviewEnvelope<Workload>.self)
            guard case .job(let l)? = lean.request?.object, case .job(let f)? = full.request?.object else {
                Issue.record("not read as a Job: \(Self.text(body))")
                continue
            }
            #expect(l.spec?.template.spec.volumes == f.spec?.template.spec.volumes)
            #expect(l.spec?.template.metadata?.annotations == f.spec?.template.metadata?.annotations)
            #expect(l.metadata.labels == f.metadata.labels)
            try expectSameAnswer("job", body, path: "/validate-pods")
            let answer = try JSONValue(parsing: handler.handle(method: "POST", uri: "/validate-pods", body: body).body)
            #expect(answer["response"]?["allowed"] == false, "a stranger's Job mounting bob's home")
        }
    }

    @Test func readableReviewsGetTheFullWaysAnswer() throws {
        for (name, body) in Self.readable() {
            #expect(ReviewReader.workload(body) != nil, "\(name): not read")
            for path in ["/mutate-pods", "/validate-pods"] { try expectSameAnswer(name, body, path: path) }
        }
        // The decisions did decide: these are refused, for the reasons they give.
        let refused = ["someone else's home", "a missing volume", "read-write where only read is granted", "a stranger's pod",
                       "forged user annotation", "managed-by label", "update adding the user annotation", "job with a claim",
                       "job template with a forged user"]
        for (name, body) in Self.readable() where refused.contains(name) {
            let answer = try JSONValue(parsing: handler.handle(method: "POST", uri: "/validate-pods", body: body).body)
            #expect(answer["response"]?["allowed"] == false, "\(name)")
        }
        // And a mutation that injects something: the same patch either way.
        let mutation = try JSONValue(parsing: handler.handle(method: "POST", uri: "/mutate-pods", body: Self.readable()[0].1).body)
        #expect(mutation["response"]?["patch"]?.stringValue?.isEmpty == false)
    }

    @Test func bodiesTheReaderLeavesGetTheFullWaysAnswer() throws {
        for (name, body) in Self.leftToTheFullWay() {
            #expect(ReviewReader.workload(body) == nil, "\(name): read")
            #expect(ReviewReader.pod(body) == nil, "\(name): read")
            for path in ["/mutate-pods", "/validate-pods"] { try expectSameAnswer(name, body, path: path) }
        }
    }

    @Test func validationDoesNotReadTheEnvironment() throws {
        for (name, body) in Self.environmentFaults() {
            #expect(ReviewReader.pod(body) == nil, "\(name): read for the mutation")
            try expectSameAnswer(name, body, path: "/mutate-pods")
            let review = try #require(ReviewReader.workload(body), "\(name): not read for validation")
            guard case .pod(let pod)? = review.request?.object else { preconditionFailure("\(name): not a pod") }
            #expect(pod.spec?.containers.allSatisfy { $0.env == nil } == true, "\(name)")
            // Decided on what validation reads (a pod naming no claim), as the reader's contract
            // says of faults in fields no decision reads; the full way refuses it as unreadable.
            let answer = try JSONValue(parsing: handler.handle(method: "POST", uri: "/validate-pods", body: body).body)
            #expect(answer["response"]?["allowed"] == true, "\(name)")
        }
    }

    @Test func theMutationReadsOnlyTheValueOfModulePath() throws {
        let clean = Self.body(Self.review(Self.fullPod()))
        let cleanAnswer = handler.handle(method: "POST", uri: "/mutate-pods", body: clean)
        // The witness: this pod's mutation extends MODULEPATH, so its value was read.
        let patch = try #require(try JSONValue(parsing: cleanAnswer.body)["response"]?["patch"]?.stringValue)
        let text = String(decoding: try #require(Data(base64Encoded: patch)), as: UTF8.self)
        #expect(text.contains(#""value":"/usr/share/modulefiles:/shared/tools""#), "\(text)")
        let review = try #require(ReviewReader.pod(clean))
        let env = try #require(review.request?.object?.spec?.containers.first?.env)
        #expect(env.map(\.name) == ["JUPYTERHUB_USER", "JUPYTERHUB_API_TOKEN", "FROM_CONFIG", "MAYBE", "EMPTY", "MODULEPATH"])
        #expect(env.filter { $0.name != "MODULEPATH" }.allSatisfy { $0.value == nil && $0.valueFrom == nil })
        #expect(env.last?.value == "/usr/share/modulefiles")
        for (name, body) in Self.otherValueFaults() {
            #expect(ReviewReader.pod(body) != nil, "\(name): not read for the mutation")
            // Decided on what the mutation reads: the same answer as the clean pod's.
            try expectSameReply(handler.handle(method: "POST", uri: "/mutate-pods", body: body), cleanAnswer, name)
        }
    }

    @Test func claimNamesHiddenInEscapesAreSeen() throws {
        // `dv-home-bob` and the reserved annotation, written with escapes a JSON encoder may use.
        let claimed = Self.body(Self.review(Self.fullPod(claims: [("dv-home-bob", false)])))
        let escapedClaim = Self.edit(claimed, #""claimName":"dv-home-bob""#, #""claimName":"dv\u002dhome\u002Dbob""#)
        let forged = Self.body(Self.review(Self.fullPod(annotations: [StowageKeys.user: "bob"]), user: stranger))
        let escapedKey = Self.edit(forged, #""stowage.io/user""#, #""stowage.io\/us\u0065r""#)
        for (name, body) in [("escaped claim", escapedClaim), ("escaped reserved annotation", escapedKey)] {
            #expect(ReviewReader.workload(body) != nil, "\(name): not read")
            try expectSameAnswer(name, body, path: "/validate-pods")
            let answer = try JSONValue(parsing: handler.handle(method: "POST", uri: "/validate-pods", body: body).body)
            #expect(answer["response"]?["allowed"] == false, "\(name)")
        }
    }
}
