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
        let started = ContinuousClock.now
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        let reply = route(method: method, path: path, body: body)
        if let metrics, Self.paths.contains(path) {
            metrics.observe(path: path, status: reply.status, duration: ContinuousClock.now - started)
        }
        return reply
    }

    private func route(method: String, path: String, body: Data) -> WebhookReply {
        switch path {
        case "/healthz":
            return .text(200, "ok")
        case "/readyz":
            return source.isReady ? .text(200, "ok") : .text(503, "caches not synced")
        case _ where Self.paths.contains(path):
            guard method == "POST" else { return .text(405, "method \(method) not allowed on \(path); use POST") }
            guard source.isReady else { return .text(503, "webhook caches not synced yet") }
            switch path {
            case "/mutate-pods": return review(body, as: Pod.self, mutate)
            case "/validate-pods": return review(body, as: Workload.self, validateWorkload)
            default: return review(body, as: StowageVolume.self, validateVolume)
            }
        default:
            return .text(404, "not found: \(path)")
        }
    }

    /// Decodes the review, runs `decide` and encodes the answer. A body that is not an
    /// AdmissionReview v1 is a 400; a review whose object cannot be read is answered with a
    /// denial carrying the reason (the API server expects a review back when it can read one).
    private func review<Object: Decodable & Sendable>(
        _ body: Data, as type: Object.Type,
        _ decide: (ReviewEnvelope<Object>.Request, Object) -> ReviewReply
    ) -> WebhookReply {
        guard !body.isEmpty else { return .text(400, "empty body: expected an AdmissionReview (admission.k8s.io/v1)") }
        // KubeModel's byte-level parser and tree decoder: several times cheaper than
        // Foundation's JSONDecoder on a pod review, and on the request path that matters.
        let tree: JSONValue
        do {
            tree = try JSONValue(parsing: body)
        } catch {
            return .text(400, "malformed AdmissionReview: \(error)")
        }
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
        do {
            return WebhookReply(status: 200, contentType: "application/json", body: try JSONEncoder().encode(reply))
        } catch {
            return .text(500, "cannot encode the AdmissionReview: \(error)")
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
        if !result.patch.isEmpty {
            reply.response.patchType = "JSONPatch"
            reply.response.patch = Data(JSONText.encode(result.patch).utf8).base64EncodedString()
        }
        logger.debug("pod mutated", metadata: [
            "pod": "\(namespace)/\(pod.metadata.name ?? pod.metadata.generateName ?? "")", "creator": "\(identity.creator)",
            "user": "\(identity.user ?? "")", "injected": "\(result.injected.joined(separator: ","))",
            "operations": "\(result.patch.count)",
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
        let verdict = PodValidator.validate(workload, identity: identity, snapshot: snapshot, settings: settings)
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
            verdict = VolumeValidator.validate(v, config: config)
            (kind, name) = (DataVolume.kind, v.metadata.name)
        case .sharedVolume(let v):
            verdict = VolumeValidator.validate(v, config: config)
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
struct WebhookMetrics: Sendable {
    let registry: MetricsRegistry

    init(_ registry: MetricsRegistry) { self.registry = registry }

    func observe(path: String, status: Int, duration: Duration) {
        registry.counter("stowage_webhook_requests_total", help: "Admission requests by path and HTTP status.",
                         labels: ["path": path, "code": String(status)]).increment()
        registry.histogram("stowage_webhook_request_duration_seconds", help: "Time to decide one admission request.",
                           labels: ["path": path], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5])
            .observe(duration)
    }
}
