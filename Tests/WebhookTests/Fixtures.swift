import Foundation
import KubeModel
import StowageAPI
import SyncContract
import Testing
@testable import Webhook

/// The spawner every test trusts, and the identity of anyone else.
let spawner = "system:serviceaccount:jhub:hub"
let stranger = "system:serviceaccount:jhub:someone"

/// A configuration with a team, three levels, homes on and the spawner trusted.
func testConfig(homes: Bool = true, homeSource: Bool = false) -> StowageConfig {
    var config = StowageConfig(
        groups: ["team-a": ["alice", "bob"]],
        levels: [
            "public": AccessLevel(read: [.anyUser], write: [.readWriteMembers]),
            "private": AccessLevel(read: [.members], write: [.readWriteMembers]),
            "secret": AccessLevel(read: [.members], write: [], sync: false),
        ],
        spawners: SpawnerConfig(trusted: [spawner]))
    config.homes.enabled = homes
    if homeSource {
        config.homes.source = DataSource(s3: S3Source(endpoint: "http://s3", bucket: "homes", prefix: "users/{username}",
                                                      credentialsSecretRef: LocalObjectReference(name: "creds")))
    }
    return config
}

let settings = AdmissionSettings(operatorUsers: ["system:serviceaccount:stowage-system:stowage"], waitImage: "stowage:test")

func dataVolume(_ name: String, owner: String? = nil, users: [String]? = nil, selector: [String: String]? = nil,
                path: String? = nil, access: AccessMode? = nil, source: Bool = false,
                phase: DataVolumePhase? = .ready, namespace: String = "jhub") -> DataVolume {
    var attach: AttachTo?
    if users != nil || selector != nil { attach = AttachTo(users: users, podSelector: selector.map { LabelSelector(matchLabels: $0) }) }
    let spec = DataVolumeSpec(
        owner: owner, size: "1Gi",
        source: source ? DataSource(s3: S3Source(endpoint: "http://s3", bucket: "bucket", credentialsSecretRef: LocalObjectReference(name: "c"))) : nil,
        access: access, mount: path.map { Mount(path: $0) }, attachTo: attach)
    var volume = DataVolume(name: name, namespace: namespace, spec: spec)
    volume.status = DataVolumeStatus(phase: phase)
    return volume
}

func sharedVolume(_ name: String, level: String, members: [Member] = [], purpose: Purpose? = nil, path: String? = nil,
                  source: Bool = false, phase: SharedVolumePhase? = .ready, namespace: String = "jhub") -> SharedVolume {
    var share = SharedVolume(name: name, namespace: namespace, spec: SharedVolumeSpec(
        size: "1Gi", mount: path.map { Mount(path: $0) }, accessLevel: level, members: members, purpose: purpose,
        source: source ? DataSource(s3: S3Source(endpoint: "http://s3", bucket: "bucket", credentialsSecretRef: LocalObjectReference(name: "c"))) : nil))
    share.status = SharedVolumeStatus(phase: phase)
    return share
}

/// A pod as KubeSpawner makes it for `user`.
func notebookPod(user: String? = "alice", annotations extra: [String: String] = [:], labels: [String: String] = [:],
                 volumes: [Volume]? = nil, mounts: [VolumeMount]? = nil, env: [EnvVar]? = nil, sidecar: Bool = false) -> Pod {
    var container = Container(name: "notebook", image: "jupyter/minimal-notebook")
    container.volumeMounts = mounts
    container.env = env
    var containers = [container]
    if sidecar { containers.append(Container(name: "sidecar", image: "busybox")) }
    var annotations = extra
    if let user { annotations["hub.jupyter.org/username"] = user }
    var pod = Pod(metadata: ObjectMeta(name: "jupyter-\(user ?? "x")", namespace: "jhub",
                                       labels: ["component": "singleuser-server"].merging(labels) { $1 },
                                       annotations: annotations.isEmpty ? nil : annotations),
                  spec: PodSpec(containers: containers, volumes: volumes))
    pod.spec?.restartPolicy = "Always"
    return pod
}

/// Fixed volumes and configuration, standing in for the watch caches.
struct FixedSource: VolumeSource {
    var snapshot: VolumeSnapshot
    var isReady = true
    var config: StowageConfig { snapshot.config }
    func mutationSnapshot(namespace: String, identity: PodIdentity) -> VolumeSnapshot { snapshot }
    func validationSnapshot(namespace: String, dataVolumes: [String], sharedVolumes: [String]) -> VolumeSnapshot { snapshot }
}

/// Applies a JSON Patch (add, remove, replace) the way the API server does, for checking
/// what a mutation produces and that a second pass changes nothing.
func apply(_ patch: [JSONPatchOperation], to document: JSONValue) throws -> JSONValue {
    var result = document
    for operation in patch {
        let tokens = operation.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
        result = try applyOne(operation, tokens: ArraySlice(tokens), to: result)
    }
    return result
}

struct PatchFailure: Error, CustomStringConvertible { var description: String }

private func applyOne(_ operation: JSONPatchOperation, tokens: ArraySlice<String>, to value: JSONValue) throws -> JSONValue {
    guard let token = tokens.first else {
        guard operation.op != .remove, let new = operation.value else { throw PatchFailure(description: "cannot remove the root") }
        return new
    }
    let rest = tokens.dropFirst()
    switch value {
    case .object(var object):
        if rest.isEmpty {
            switch operation.op {
            case .add: object[token] = operation.value
            case .replace:
                guard object[token] != nil else { throw PatchFailure(description: "replace of missing \(operation.path)") }
                object[token] = operation.value
            case .remove:
                guard object.removeValue(forKey: token) != nil else { throw PatchFailure(description: "remove of missing \(operation.path)") }
            }
            return .object(object)
        }
        guard let child = object[token] else { throw PatchFailure(description: "missing parent for \(operation.path)") }
        object[token] = try applyOne(operation, tokens: rest, to: child)
        return .object(object)
    case .array(var array):
        if rest.isEmpty {
            if token == "-", operation.op == .add, let new = operation.value { array.append(new); return .array(array) }
            guard let i = Int(token), i >= 0, i <= array.count else { throw PatchFailure(description: "bad index in \(operation.path)") }
            switch operation.op {
            case .add: array.insert(operation.value ?? .null, at: i)
            case .replace: array[i] = operation.value ?? .null
            case .remove: array.remove(at: i)
            }
            return .array(array)
        }
        guard let i = Int(token), array.indices.contains(i) else { throw PatchFailure(description: "bad index in \(operation.path)") }
        array[i] = try applyOne(operation, tokens: rest, to: array[i])
        return .array(array)
    default:
        throw PatchFailure(description: "cannot descend into a scalar at \(operation.path)")
    }
}

/// Mutates `pod` and returns the patched pod with the result.
func mutated(_ pod: Pod, creator: String = spawner, snapshot: VolumeSnapshot) throws -> (pod: Pod, result: MutationResult) {
    let identity = PodIdentity.of(creator: creator, annotations: pod.metadata.annotations, config: snapshot.config)
    let result = PodMutator.mutate(pod, identity: identity, snapshot: snapshot, settings: settings)
    let patched = try apply(result.patch, to: JSONValue(encoding: pod))
    return (try patched.decode(as: Pod.self), result)
}

/// An AdmissionReview body for `object` sent by `user`.
func reviewBody(kind: String, group: String = "", version: String = "v1", operation: String = "CREATE",
                user: String, namespace: String = "jhub", object: some Encodable, oldObject: (any Encodable)? = nil) throws -> Data {
    var request: [String: JSONValue] = [
        "uid": "uid-1",
        "kind": ["group": .string(group), "version": .string(version), "kind": .string(kind)],
        "resource": ["group": .string(group), "version": .string(version), "resource": .string(kind.lowercased() + "s")],
        "namespace": .string(namespace),
        "operation": .string(operation),
        "userInfo": ["username": .string(user), "groups": ["system:authenticated"]],
        "object": try JSONValue(encoding: object),
    ]
    if let oldObject { request["oldObject"] = try JSONValue(encoding: oldObject) }
    let review: JSONValue = ["apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": .object(request)]
    return try JSONEncoder.kube.encode(review)
}

/// Expects two answers to one review to be the same: status, content type and body (the
/// same JSON value, when it is JSON).
func expectSameReply(_ reply: WebhookReply, _ expected: WebhookReply, _ comment: String) throws {
    #expect(reply.status == expected.status, "\(comment)")
    #expect(reply.contentType == expected.contentType, "\(comment)")
    if expected.contentType == "application/json" {
        #expect(try JSONValue(parsing: reply.body) == JSONValue(parsing: expected.body),
                "\(comment): \(String(decoding: reply.body, as: UTF8.self))")
    } else {
        #expect(reply.body == expected.body, "\(comment)")
    }
}
