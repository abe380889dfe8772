import Foundation
import KubeModel
import KubeRuntime
import Logging
import StowageAPI

/// An HTTP answer, independent of the server that sends it.
public struct WebhookReply: Sendable {
    public var status: Int
    public var contentType: String
    public var body: Data

    static func text(_ status: Int, _ text: String) -> WebhookReply {
        WebhookReply(status: status, contentType: "text/plain; charset=utf-8", body: Data((text + "\n").utf8))
    }
}

/// Turns one HTTP request into one answer: routing, AdmissionReview decoding, the decision
/// and the encoded review. No I/O, so tests drive it without a socket.
///
/// Routes: `POST /mutate-pods`, `POST /validate-pods` (pods and Jobs), `POST
/// /validate-volumes` (DataVolume, SharedVolume), `GET /healthz` (200 while serving) and
/// `GET /readyz` (200 once the caches are synced). Unknown paths get 404, bodies that are
/// not an AdmissionReview v1 get 400 with the reason. While the caches are not synced,
/// reviews are refused (HTTP 503) so the API server applies the failure policy rather than
/// the webhook deciding from an empty cache.
public struct AdmissionHandler: Sendable {
    public static let paths = ["/mutate-pods", "/validate-pods", "/validate-volumes"]

    let source: any VolumeSource
    let settings: AdmissionSettings
    let logger: Logger
    let metrics: WebhookMetrics?

    public init(source: any VolumeSource, settings: AdmissionSettings, metrics: MetricsRegistry? = nil, logger: Logger) {
        self.source = source
        self.settings = settings
        self.logger = logger
        self.metrics = metrics.map(WebhookMetrics.init)
    }

    public func handle(method: String, uri: String, body: Data) -> WebhookReply {
        handle(method: method, uri: uri, body: body, reading: .lean)
    }

    /// How a pod review is read: `lean`, by `ReviewReader` when it can, or `full`, always
    /// as a `JSONValue` tree decoded by `Decodable` (tests compare the two).
    enum Reading { case lean, full }

    func handle(method: String, uri: String, body: Data, reading: Reading) -> WebhookReply {
        let started = ContinuousClock.now
        let path = uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { String(uri[..<$0]) } ?? uri
        let reply = route(method: method, path: path, body: body, reading: reading)
        if let metrics, Self.paths.contains(path) {
            metrics.observe(path: path, status: reply.status, duration: ContinuousClock.now - started)
        }
        return reply
    }

    private func route(method: String, path: String, body: Data, reading: Reading) -> WebhookReply {
        switch path {
        case "/healthz":
            return .text(200, "ok")
        case "/readyz":
            return source.isReady ? .text(200, "ok") : .text(503, "caches not synced")
        case _ where Self.paths.contains(path):
            guard method == "POST" else { return .text(405, "method \(method) not allowed on \(path); use POST") }
            guard source.isReady else { return .text(503, "webhook caches not synced yet") }
            guard !body.isEmpty else { return .text(400, "empty body: expected an AdmissionReview (admission.k8s.io/v1)") }
            // Pod reviews, nearly every request, are read for what the decisions need; any
            // body that reader does not take goes the full way below.
            if reading == .lean {
                switch path {
                case "/mutate-pods": if let review = ReviewReader.pod(body) { return answer(review, mutate) }
                case "/validate-pods": if let review = ReviewReader.workload(body) { return answer(review, validateWorkload) }
                default: break
                }
            }
            // KubeModel's byte-level parser and tree decoder: several times cheaper than
            // Foundation's JSONDecoder on a pod review.
            let tree: JSONValue
            do {
                tree = try JSONValue(parsing: body)
            } catch {
                return .text(400, "malformed AdmissionReview: \(error)")
            }
            switch path {
            case "/mutate-pods": return review(tree, as: Pod.self, mutate)
            case "/validate-pods": return validatePods(tree)
            default: return review(tree, as: StowageVolume.self, validateVolume)
            }
        default:
            return .text(404, "not found: \(path)")
        }
    }

    /// Decodes the review, runs `decide` and encodes the answer. A body that is not an
    /// AdmissionReview v1 is a 400; a review whose object cannot be read is answered with a
    /// denial carrying the reason (the API server expects a review back when it can read one).
    private func review<Object: Decodable & Sendable>(
        _ tree: JSONValue, as type: Object.Type,
        _ decide: (ReviewEnvelope<Object>.Request, Object) -> ReviewReply
    ) -> WebhookReply {
        let envelope: ReviewEnvelope<Object>
        do {
            envelope = try tree.decode(as: ReviewEnvelope<Object>.self)
        } catch {
            let reason = (error as? DecodingError)?.summary ?? "\(error)"
            guard let header = try? tree.decode(as: ReviewEnvelope<Ignored>.self),
                  let request = header.request, header.apiVersion == "admission.k8s.io/v1" else {
                return .text(400, "malformed AdmissionReview: \(reason)")
            }
            logger.warning("admission object unreadable; denied", metadata: ["uid": "\(request.uid)", "error": "\(reason)"])
            return encode(.deny(uid: request.uid, code: 400, reason: "BadRequest", message: "stowage webhook cannot read the object: \(reason)"))
        }
        return answer(envelope, decide)
    }

    /// The answer to a decoded review: checks the envelope, runs `decide` and encodes.
    private func answer<Object>(_ envelope: ReviewEnvelope<Object>,
                                _ decide: (ReviewEnvelope<Object>.Request, Object) -> ReviewReply) -> WebhookReply {
        guard envelope.apiVersion == "admission.k8s.io/v1", envelope.kind == "AdmissionReview" else {
            return .text(400, "malformed AdmissionReview: expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got \(envelope.apiVersion ?? "none") \(envelope.kind ?? "none")")
        }
        guard let request = envelope.request else { return .text(400, "malformed AdmissionReview: no request") }
        guard let object = request.object else {
            // DELETE and CONNECT carry no object: nothing to judge.
            return encode(.allow(uid: request.uid))
        }
        return encode(decide(request, object))
    }

    private func encode(_ reply: ReviewReply) -> WebhookReply {
        WebhookReply(status: 200, contentType: "application/json", body: Data(reply.bytes))
    }

    /// `/validate-pods`: a review naming no Stowage claim is answered at once, unless
    /// `quick` is false (tests compare both ways); the others are decoded and judged.
    func validatePods(_ tree: JSONValue, quick: Bool = true) -> WebhookReply {
        if quick, let reply = Self.claimFreeAnswer(tree) { return encode(reply) }
        return review(tree, as: Workload.self, validateWorkload)
    }

    /// The answer to a review on `/validate-pods` that needs no decision, read from the
    /// parsed review without decoding its object, for a body `ReviewReader` left to the full
    /// way (a well-formed pod is decided from what that reader reads, as cheaply). Allowed,
    /// whatever the operation: a review without an
    /// object, and a pod (or a Job's pod template) none of whose volumes names a `dv-` or
    /// `shv-` claim; which is what the full path decides for them (`validateWorkload`).
    ///
    /// Nil sends the review the full way: it names a Stowage claim, or its envelope or its
    /// volumes do not read as the full path reads them (which then answers with the error it
    /// always gave). Beyond the envelope and the volumes, the object is not read: a pod the
    /// API server sends here has passed its schema already, so only a hand-made body could
    /// be malformed elsewhere, and one that names no claim asks nothing of Stowage.
    static func claimFreeAnswer(_ tree: JSONValue) -> ReviewReply? {
        // The volumes first: a review that names a claim goes the full way without paying
        // for the envelope twice.
        let object = tree["request"]?["object"]
        if let object, object != .null, !namesNoStowageClaim(object) || carriesReservedKeys(object) { return nil }
        // An update that adds or drops a reserved key is judged too (`ReservedKeys`).
        if let old = tree["request"]?["oldObject"], old != .null, carriesReservedKeys(old) { return nil }
        guard let envelope = try? tree.decode(as: ReviewEnvelope<Ignored>.self),
              envelope.apiVersion == "admission.k8s.io/v1", envelope.kind == "AdmissionReview",
              let request = envelope.request else { return nil }
        return .allow(uid: request.uid)
    }

    /// True when `object` (a pod, or a Job and its pod template) has a key only Stowage may
    /// write (`ReservedKeys`): such a pod is judged in full even without a claim, since the
    /// homes controller trusts `stowage.io/user`.
    private static func carriesReservedKeys(_ object: JSONValue) -> Bool {
        let metadata = [object["metadata"], object["spec"]?["template"]?["metadata"]]
        return metadata.contains { meta in
            meta?["annotations"]?[StowageKeys.user] != nil || meta?["labels"]?[StowageKeys.managedBy] != nil
        }
    }

    /// True when `object`, a pod or a Job, reads as `WorkloadRequest` reads it and none of
    /// the volumes of its pod spec names a Stowage claim.
    private static func namesNoStowageClaim(_ object: JSONValue) -> Bool {
        guard case .object = object else { return false }
        switch object["kind"] {
        case nil, .null?, .string?: break
        default: return false
        }
        // Where `WorkloadRequest` finds the pod spec: a Job's template, else the object's own.
        var spec = object["spec"]
        if object["kind"] == .string(Job.kind), let jobSpec = spec, jobSpec != .null {
            // A template and its spec are required of a Job that has a spec.
            guard case .object = jobSpec, case .object? = jobSpec["template"],
                  case .object(let template)? = jobSpec["template"]?["spec"] else { return false }
            spec = .object(template)
        }
        guard let spec, spec != .null else { return true }
        guard case .object = spec else { return false }
        switch spec["volumes"] {
        case nil, .null?:
            return true
        case .array(let volumes)?:
            for volume in volumes {
                guard case .object(let fields) = volume else { return false }
                switch fields["persistentVolumeClaim"] {
                case nil, .null?: continue
                case let source?:
                    guard case .string(let claim)? = source["claimName"], ChildNames.volume(ofClaim: claim) == nil else { return false }
                }
            }
            return true
        default:
            return false
        }
    }

    // MARK: decisions

    private func mutate(_ request: ReviewEnvelope<Pod>.Request, _ pod: Pod) -> ReviewReply {
        guard request.operation == "CREATE" else { return .allow(uid: request.uid) }
        let namespace = pod.metadata.namespace ?? request.namespace ?? ""
        var pod = pod
        pod.metadata.namespace = namespace
        let config = source.config
        let identity = PodIdentity.of(creator: request.userInfo.username ?? "", annotations: pod.metadata.annotations, config: config)
        let snapshot = source.mutationSnapshot(namespace: namespace, identity: identity)
        let result = PodMutator.mutate(pod, identity: identity, snapshot: snapshot, settings: settings)
        var reply = ReviewReply.allow(uid: request.uid, warnings: result.warnings)
        if !result.steps.isEmpty {
            reply.response.patchType = "JSONPatch"
            reply.response.patch = Base64.encode(result.patchText)
        }
        logger.debug("pod mutated", metadata: [
            "pod": "\(namespace)/\(pod.metadata.name ?? pod.metadata.generateName ?? "")", "creator": "\(identity.creator)",
            "user": "\(identity.user ?? "")", "injected": "\(result.injected.joined(separator: ","))",
            "operations": "\(result.steps.count)",
        ])
        return reply
    }

    private func validateWorkload(_ request: ReviewEnvelope<Workload>.Request, _ object: Workload) -> ReviewReply {
        let namespace = request.namespace ?? ""
        let workload = WorkloadRequest(object, namespace: namespace)
        let creator = request.userInfo.username ?? ""
        switch request.operation {
        case "CREATE":
            break
        case "UPDATE":
            // Only the reserved keys can change in a way that matters (a pod's volumes are
            // immutable, a Job's template too).
            guard let old = request.oldObject else { return .allow(uid: request.uid) }
            let problems = ReservedKeys.updateProblems(old: WorkloadRequest(old, namespace: namespace), new: workload,
                                                       creator: creator, settings: settings)
            guard !problems.isEmpty else { return .allow(uid: request.uid) }
            return denyWorkload(request, workload, creator: creator, user: nil, message: Verdict.deny(problems).message)
        default:
            return .allow(uid: request.uid)
        }
        let config = source.config
        let identity = PodIdentity.of(creator: creator, annotations: workload.annotations, config: config)
        let claims = workload.stowageClaims
        // Without claims nothing is looked up; the reserved keys are still judged.
        let snapshot = claims.isEmpty ? VolumeSnapshot(config: config) : source.validationSnapshot(
            namespace: workload.namespace,
            dataVolumes: claims.filter { $0.kind == .dataVolume }.map(\.name),
            sharedVolumes: claims.filter { $0.kind == .sharedVolume }.map(\.name))
        let verdict = PodValidator.validate(workload, identity: identity, snapshot: snapshot, settings: settings, claims: claims)
        guard !verdict.allowed else { return .allow(uid: request.uid) }
        return denyWorkload(request, workload, creator: creator, user: identity.user, message: verdict.message)
    }

    private func denyWorkload(_ request: ReviewEnvelope<Workload>.Request, _ workload: WorkloadRequest, creator: String,
                              user: String?, message: String) -> ReviewReply {
        logger.info("workload denied", metadata: [
            "kind": "\(workload.kind)", "object": "\(workload.namespace)/\(workload.name)", "operation": "\(request.operation)",
            "creator": "\(creator)", "user": "\(user ?? "")", "reason": "\(message)",
        ])
        return .deny(uid: request.uid, code: 403, reason: "Forbidden", message: message)
    }

    private func validateVolume(_ request: ReviewEnvelope<StowageVolume>.Request, _ volume: StowageVolume) -> ReviewReply {
        guard request.operation == "CREATE" || request.operation == "UPDATE" else { return .allow(uid: request.uid) }
        // Metadata-only updates (finalizers, labels) and objects on their way out must go
        // through even when a configuration change made the spec invalid, or the operator
        // could never remove its finalizer.
        if request.operation == "UPDATE", volume.isDeleting || request.oldObject?.spec == volume.spec {
            return .allow(uid: request.uid)
        }
        let config = source.config
        let verdict: Verdict
        let kind: String, name: String?
        switch volume {
        case .dataVolume(let v):
            let old: DataVolume? = if case .dataVolume(let was)? = request.oldObject { was } else { nil }
            verdict = VolumeValidator.validate(v, old: old, config: config)
            (kind, name) = (DataVolume.kind, v.metadata.name)
        case .sharedVolume(let v):
            let old: SharedVolume? = if case .sharedVolume(let was)? = request.oldObject { was } else { nil }
            verdict = VolumeValidator.validate(v, old: old, config: config)
            (kind, name) = (SharedVolume.kind, v.metadata.name)
        }
        guard !verdict.allowed else { return .allow(uid: request.uid) }
        logger.info("volume denied", metadata: ["kind": "\(kind)", "object": "\(request.namespace ?? "")/\(name ?? "")",
                                                "reason": "\(verdict.message)"])
        return .deny(uid: request.uid, code: 422, reason: "Invalid", message: verdict.message, causes: verdict.causes,
                     kind: kind, name: name)
    }
}

/// Request counts and latencies, per path and HTTP status.
///
/// The instruments of each path, and its counter for HTTP 200, are looked up once: a lookup
/// validates names and hashes label sets under the registry's lock, work that does not
/// depend on the request.
struct WebhookMetrics: Sendable {
    let registry: MetricsRegistry
    private let durations: [String: Histogram]
    private let answered: [String: Counter]

    init(_ registry: MetricsRegistry) {
        self.registry = registry
        durations = Dictionary(uniqueKeysWithValues: AdmissionHandler.paths.map { ($0, Self.duration(registry, path: $0)) })
        answered = Dictionary(uniqueKeysWithValues: AdmissionHandler.paths.map { ($0, Self.requests(registry, path: $0, status: 200)) })
    }

    func observe(path: String, status: Int, duration: Duration) {
        ((status == 200 ? answered[path] : nil) ?? Self.requests(registry, path: path, status: status)).increment()
        (durations[path] ?? Self.duration(registry, path: path)).observe(duration)
    }

    private static func requests(_ registry: MetricsRegistry, path: String, status: Int) -> Counter {
        registry.counter("stowage_webhook_requests_total", help: "Admission requests by path and HTTP status.",
                         labels: ["path": path, "code": String(status)])
    }

    private static func duration(_ registry: MetricsRegistry, path: String) -> Histogram {
        registry.histogram("stowage_webhook_request_duration_seconds", help: "Time to decide one admission request.",
                           labels: ["path": path], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5])
    }
}
