import Foundation
import KubeModel

/// Reads a pod review straight from its bytes (`JSONReader`), taking only what the
/// decisions read: the envelope, and of the Pod (or the Job and its pod template) the
/// metadata that names it and its owners, labels and annotations, and the volumes,
/// containers' names, mounts and (for the mutation, which alone reads it) environment: the
/// names of its variables, and the value only of `MODULEPATH`. A review carries the whole pod, mostly environment values, tolerations, affinity and
/// resources; reading it into a `JSONValue` tree and decoding every modelled field cost
/// several times the decision itself.
///
/// Nil when the body is anything but a well-formed review of that shape: not JSON, a field
/// read of another type, a required one missing, a field given twice. The handler then
/// takes the full way (`JSONValue(parsing:)` and `Decodable`), which gives the answer it
/// always gave, error messages included. So for every field a decision reads, this reader
/// yields what `Decodable` yields, or nothing.
///
/// What it does not do is check the types of the fields no decision reads (a container's
/// `image`, its `securityContext`): a review whose only fault is there is decided here,
/// where the full way would deny it as unreadable. Only a hand-made body can be so: the API
/// server sends objects it has decoded into its own types. And whatever the rest of such a
/// body says, the decision sees the same volumes, mounts, labels and annotations as the
/// full way would.
///
/// The decisions must read no field of `Pod` or `Job` that this reader does not fill;
/// `ReviewReaderTests` holds the answers of both ways to each other.
enum ReviewReader {
    /// A `/mutate-pods` review.
    static func pod(_ body: Data) -> ReviewEnvelope<Pod>? {
        try? JSONReader.read(body) { r throws(JSONParseError) in try envelope(&r, object: pod) }
    }

    /// A `/validate-pods` review: a Pod, or a Job (by its `kind`).
    static func workload(_ body: Data) -> ReviewEnvelope<Workload>? {
        try? JSONReader.read(body) { r throws(JSONParseError) in try envelope(&r, object: workload) }
    }

    private typealias Read<T> = (inout JSONReader) throws(JSONParseError) -> T

    private static func envelope<Object>(_ r: inout JSONReader, object: Read<Object>) throws(JSONParseError) -> ReviewEnvelope<Object> {
        var review = ReviewEnvelope<Object>()
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "apiVersion": review.apiVersion = try r.optionalString()
            case "kind": review.kind = try r.optionalString()
            case "request": review.request = try r.null() ? nil : request(&r, object: object)
            default: break
            }
        }
        return review
    }

    private static func request<Object>(_ r: inout JSONReader, object: Read<Object>) throws(JSONParseError) -> ReviewEnvelope<Object>.Request {
        var uid: String?, kind: AdmissionReview.GroupVersionKind?, operation: String?, userInfo: AdmissionReview.UserInfo?
        var name: String?, namespace: String?, dryRun: Bool?
        var new: Object?, old: Object?
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "uid": uid = try r.string()
            case "kind": kind = try groupVersionKind(&r)
            case "name": name = try r.optionalString()
            case "namespace": namespace = try r.optionalString()
            case "operation": operation = try r.string()
            case "userInfo": userInfo = try self.userInfo(&r)
            case "object": new = try r.null() ? nil : object(&r)
            case "oldObject": old = try r.null() ? nil : object(&r)
            case "dryRun": dryRun = try r.optionalBool()
            default: break
            }
        }
        guard let uid, let kind, let operation, let userInfo else { throw missing(at: r) }
        return .init(uid: uid, kind: kind, name: name, namespace: namespace, operation: operation, userInfo: userInfo,
                     object: new, oldObject: old, dryRun: dryRun)
    }

    private static func groupVersionKind(_ r: inout JSONReader) throws(JSONParseError) -> AdmissionReview.GroupVersionKind {
        var group: String?, version: String?, kind: String?
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "group": group = try r.string()
            case "version": version = try r.string()
            case "kind": kind = try r.string()
            default: break
            }
        }
        guard let group, let version, let kind else { throw missing(at: r) }
        return .init(group: group, version: version, kind: kind)
    }

    private static func userInfo(_ r: inout JSONReader) throws(JSONParseError) -> AdmissionReview.UserInfo {
        var info = AdmissionReview.UserInfo()
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "username": info.username = try r.optionalString()
            case "uid": info.uid = try r.optionalString()
            case "groups": info.groups = try r.null() ? nil : strings(&r)
            default: break
            }
        }
        return info
    }

    // MARK: objects

    private static func pod(_ r: inout JSONReader) throws(JSONParseError) -> Pod {
        guard case .pod(let pod) = try object(&r, jobs: false, env: true) else { preconditionFailure("a Job where only pods are read") }
        return pod
    }

    /// Without the containers' environment: validation never reads it, and it is most of a
    /// notebook pod's bytes that the reader would otherwise make strings of.
    private static func workload(_ r: inout JSONReader) throws(JSONParseError) -> Workload {
        try object(&r, jobs: true, env: false)
    }

    /// A Pod, or with `jobs` a Job when `kind` says so (as `Workload` decodes). Kubernetes
    /// writes `kind` before `spec`; in a body that does not, the spec is read once the kind
    /// is known. `env`: whether the containers' `env` is read (else it is skipped, unchecked).
    private static func object(_ r: inout JSONReader, jobs: Bool, env: Bool) throws(JSONParseError) -> Workload {
        var apiVersion: String?, kind: String?, metadata: ObjectMeta?
        var podSpec: PodSpec?, jobSpec: Job.Spec?, specOffset: Int?
        func readSpec(_ r: inout JSONReader) throws(JSONParseError) {
            if try r.null() { return }
            if jobs, kind == Job.kind { jobSpec = try self.jobSpec(&r, env: env) } else { podSpec = try self.podSpec(&r, env: env) }
        }
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "apiVersion": apiVersion = try r.string()
            case "kind": kind = try r.string()
            case "metadata": metadata = try objectMeta(&r)
            case "spec" where jobs && kind == nil:
                specOffset = r.offset
                try r.skip()
            case "spec": try readSpec(&r)
            default: break
            }
        }
        if let specOffset { try r.reread(at: specOffset, readSpec) }
        guard let apiVersion, let kind, let metadata else { throw missing(at: r) }
        if jobs, kind == Job.kind {
            var job = Job(metadata: metadata, spec: Job.Spec(template: Job.PodTemplate(spec: PodSpec(containers: []))))
            (job.apiVersion, job.spec) = (apiVersion, jobSpec)
            return .job(job)
        }
        var pod = Pod(metadata: metadata, spec: PodSpec(containers: []))
        (pod.apiVersion, pod.kind, pod.spec) = (apiVersion, kind, podSpec)
        return .pod(pod)
    }

    private static func jobSpec(_ r: inout JSONReader, env: Bool) throws(JSONParseError) -> Job.Spec {
        var template: Job.PodTemplate?
        try r.members { key, r throws(JSONParseError) in
            if case "template" = key { template = try podTemplate(&r, env: env) }
        }
        guard let template else { throw missing(at: r) }
        return Job.Spec(template: template)
    }

    private static func podTemplate(_ r: inout JSONReader, env: Bool) throws(JSONParseError) -> Job.PodTemplate {
        var metadata: ObjectMeta?, spec: PodSpec?
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "metadata": metadata = try r.null() ? nil : objectMeta(&r)
            case "spec": spec = try podSpec(&r, env: env)
            default: break
            }
        }
        guard let spec else { throw missing(at: r) }
        return Job.PodTemplate(metadata: metadata, spec: spec)
    }

    private static func objectMeta(_ r: inout JSONReader) throws(JSONParseError) -> ObjectMeta {
        var meta = ObjectMeta()
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "name": meta.name = try r.optionalString()
            case "generateName": meta.generateName = try r.optionalString()
            case "namespace": meta.namespace = try r.optionalString()
            case "labels": meta.labels = try r.optionalStringMap()
            case "annotations": meta.annotations = try r.optionalStringMap()
            // Pods of Jobs have one; few have more. `Decodable` checks them as it always did.
            case "ownerReferences": meta.ownerReferences = try decoded(&r)
            default: break
            }
        }
        return meta
    }

    private static func podSpec(_ r: inout JSONReader, env: Bool) throws(JSONParseError) -> PodSpec {
        var containers: [Container]?, initContainers: [Container]?, volumes: [Volume]?
        let container: Read<Container> = { r throws(JSONParseError) in try self.container(&r, env: env) }
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "containers": containers = try array(&r, container)
            case "initContainers": initContainers = try r.null() ? nil : array(&r, container)
            case "volumes": volumes = try r.null() ? nil : array(&r, volume)
            default: break
            }
        }
        guard let containers else { throw missing(at: r) }
        return PodSpec(containers: containers, initContainers: initContainers, volumes: volumes)
    }

    private static func container(_ r: inout JSONReader, env readsEnv: Bool) throws(JSONParseError) -> Container {
        var name: String?, mounts: [VolumeMount]?, env: [EnvVar]?
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "name": name = try r.string()
            case "volumeMounts": mounts = try r.null() ? nil : array(&r, volumeMount)
            case "env" where readsEnv: env = try r.null() ? nil : array(&r, envVar)
            default: break
            }
        }
        guard let name else { throw missing(at: r) }
        var container = Container(name: name)
        (container.volumeMounts, container.env) = (mounts, env)
        return container
    }

    private static func volumeMount(_ r: inout JSONReader) throws(JSONParseError) -> VolumeMount {
        var name: String?, mountPath: String?, readOnly: Bool?, subPath: String?
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "name": name = try r.string()
            case "mountPath": mountPath = try r.string()
            case "readOnly": readOnly = try r.optionalBool()
            case "subPath": subPath = try r.optionalString()
            default: break
            }
        }
        guard let name, let mountPath else { throw missing(at: r) }
        var mount = VolumeMount(name: name, mountPath: mountPath, readOnly: readOnly)
        mount.subPath = subPath
        return mount
    }

    /// A variable's name, and only for `MODULEPATH` (the one variable the mutation reads)
    /// its `value` and `valueFrom`: the other values, most of a notebook pod's environment,
    /// are skipped unread (unchecked, as every field no decision reads).
    private static func envVar(_ r: inout JSONReader) throws(JSONParseError) -> EnvVar {
        var name: String?, valueAt: Int?, sourceAt: Int?
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "name": name = try r.string()
            // Where they are, read below once the name is known; skipped here. Of a field
            // given twice the first counts, as for the parser.
            case "value": valueAt = valueAt ?? r.offset
            case "valueFrom": sourceAt = sourceAt ?? r.offset
            default: break
            }
        }
        guard let name else { throw missing(at: r) }
        guard name == PodMutator.modulePath else { return EnvVar(name: name, value: nil) }
        var variable = EnvVar(name: name, value: nil)
        if let valueAt { variable.value = try r.reread(at: valueAt) { r throws(JSONParseError) in try r.optionalString() } }
        if let sourceAt {
            variable.valueFrom = try r.reread(at: sourceAt) { r throws(JSONParseError) in try r.null() ? nil : envSource(&r) }
        }
        return variable
    }

    /// `valueFrom`, of which only `secretKeyRef` is modelled.
    private static func envSource(_ r: inout JSONReader) throws(JSONParseError) -> EnvVar.Source {
        var secret: SecretKeySelector?
        try r.members { key, r throws(JSONParseError) in
            if case "secretKeyRef" = key { secret = try r.null() ? nil : secretKeySelector(&r) }
        }
        return EnvVar.Source(secretKeyRef: secret)
    }

    private static func secretKeySelector(_ r: inout JSONReader) throws(JSONParseError) -> SecretKeySelector {
        var name: String?, key: String?, optional: Bool?
        try r.members { field, r throws(JSONParseError) in
            switch field {
            case "name": name = try r.string()
            case "key": key = try r.string()
            case "optional": optional = try r.optionalBool()
            default: break
            }
        }
        guard let name, let key else { throw missing(at: r) }
        var selector = SecretKeySelector(name: name, key: key)
        selector.optional = optional
        return selector
    }

    private static func volume(_ r: inout JSONReader) throws(JSONParseError) -> Volume {
        var name: String?, claim: Volume.PVCSource?
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "name": name = try r.string()
            case "persistentVolumeClaim": claim = try r.null() ? nil : claimSource(&r)
            default: break
            }
        }
        guard let name else { throw missing(at: r) }
        return Volume(name: name, persistentVolumeClaim: claim)
    }

    private static func claimSource(_ r: inout JSONReader) throws(JSONParseError) -> Volume.PVCSource {
        var claimName: String?, readOnly: Bool?
        try r.members { key, r throws(JSONParseError) in
            switch key {
            case "claimName": claimName = try r.string()
            case "readOnly": readOnly = try r.optionalBool()
            default: break
            }
        }
        guard let claimName else { throw missing(at: r) }
        return Volume.PVCSource(claimName: claimName, readOnly: readOnly)
    }

    // MARK: helpers

    private static func array<T>(_ r: inout JSONReader, _ element: Read<T>) throws(JSONParseError) -> [T] {
        var items: [T] = []
        try r.elements { r throws(JSONParseError) in items.append(try element(&r)) }
        return items
    }

    private static func strings(_ r: inout JSONReader) throws(JSONParseError) -> [String] {
        try array(&r) { r throws(JSONParseError) in try r.string() }
    }

    /// A small optional part read as a tree and decoded as `Decodable` decodes it; nil for
    /// `null`.
    private static func decoded<T: Decodable>(_ r: inout JSONReader) throws(JSONParseError) -> T? {
        if try r.null() { return nil }
        let offset = r.offset
        let tree = try r.value()
        do {
            return try tree.decode(as: T.self)
        } catch {
            throw r.unexpected("\(T.self) does not decode", at: offset)
        }
    }

    private static func missing(at r: JSONReader) -> JSONParseError {
        r.unexpected("a required field is missing")
    }
}
