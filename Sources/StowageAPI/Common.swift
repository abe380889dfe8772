import Foundation
import KubeModel
import SyncContract

/// Where a volume's data lives in object storage: a union with exactly one provider set,
/// so providers other than S3 can be added without breaking existing objects.
public struct DataSource: Codable, Sendable, Hashable {
    public var s3: S3Source?
    /// Files at HTTP(S) URLs, pulled read-only (`HTTPSource`).
    public var http: HTTPSource?
    /// A pull of exactly one version of the S3 prefix: an identifier (`stowage versions`
    /// lists them), or `latest`. RO volumes only.
    public var version: String?

    public init(s3: S3Source? = nil, http: HTTPSource? = nil, version: String? = nil) {
        self.s3 = s3
        self.http = http
        self.version = version
    }

    /// Names of the providers that are set; validation requires exactly one.
    public var providers: [String] { (s3 == nil ? [] : ["s3"]) + (http == nil ? [] : ["http"]) }
}

/// An S3 (or S3-compatible) location. The operator never reads the credentials: sync pods
/// get the Secret by reference.
public struct S3Source: Codable, Sendable, Hashable {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://minio.storage:9000`.
    public var endpoint: String
    public var region: String?
    public var bucket: String
    /// Key prefix inside the bucket, without a leading `/` (`users/alice`).
    public var prefix: String?
    /// A Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    public var credentialsSecretRef: LocalObjectReference
    /// A PEM bundle to trust for the endpoint's TLS certificate.
    public var caBundleSecretRef: SecretKeySelector?
    /// Path-style addressing (`endpoint/bucket/key`), which most non-AWS servers need.
    public var pathStyle: Bool?
    /// What each uploaded part carries for the server to check; unset means CRC-32C.
    public var partChecksum: S3PartChecksum?

    public init(endpoint: String, region: String? = nil, bucket: String, prefix: String? = nil,
                credentialsSecretRef: LocalObjectReference, caBundleSecretRef: SecretKeySelector? = nil,
                pathStyle: Bool? = nil, partChecksum: S3PartChecksum? = nil) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.prefix = prefix
        self.credentialsSecretRef = credentialsSecretRef
        self.caBundleSecretRef = caBundleSecretRef
        self.pathStyle = pathStyle
        self.partChecksum = partChecksum
    }
}

/// What happens to the PVC when its volume object is deleted. Object-storage data is never
/// deleted either way.
public enum ReclaimPolicy: String, Codable, Sendable, Hashable, CaseIterable {
    case delete = "Delete"
    case retain = "Retain"

    public static let `default` = ReclaimPolicy.delete
}

/// Where and how a volume is mounted in pods.
public struct Mount: Codable, Sendable, Hashable {
    /// An absolute path other than `/`, without `..` segments.
    public var path: String
    /// Mount read-only even when the user may write (RO volumes are always read-only).
    public var readOnly: Bool?

    public init(path: String, readOnly: Bool? = nil) {
        self.path = path
        self.readOnly = readOnly
    }
}

/// How and when a volume with a source is synchronised with object storage.
public struct SyncPolicy: Codable, Sendable, Hashable {
    /// Refresh (pull) before each use starts; default true.
    public var onStart: Bool?
    /// Push when the last consumer stops (RW, RWD); default true.
    public var onStop: Bool?
    /// An intermediate sync on a 5-field cron schedule (UTC), e.g. `0 */6 * * *`.
    public var schedule: String?
    /// RWD guard: a mirror refuses to delete more remote objects than this; default 1000.
    public var maxDeletes: Int?
    /// How unchanged files are recognised; default `size`.
    public var verify: Verify?
    /// The uid and gid sync pods run as (so files keep the owner notebooks expect).
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    /// Pushes never destroy earlier content (RW, RWD): the bucket must have versioning, and
    /// what a push replaces or deletes stays as noncurrent versions until `stowage purge`.
    public var keepVersions: Bool?

    public init(onStart: Bool? = nil, onStop: Bool? = nil, schedule: String? = nil, maxDeletes: Int? = nil,
                verify: Verify? = nil, runAsUser: Int64? = nil, runAsGroup: Int64? = nil, keepVersions: Bool? = nil) {
        self.keepVersions = keepVersions
        self.onStart = onStart
        self.onStop = onStop
        self.schedule = schedule
        self.maxDeletes = maxDeletes
        self.verify = verify
        self.runAsUser = runAsUser
        self.runAsGroup = runAsGroup
    }

    public static let defaultMaxDeletes = 1000

    public var effectiveOnStart: Bool { onStart ?? true }
    public var effectiveOnStop: Bool { onStop ?? true }
    public var effectiveMaxDeletes: Int { maxDeletes ?? Self.defaultMaxDeletes }
    public var effectiveVerify: Verify { verify ?? .size }
    public var effectiveKeepVersions: Bool { keepVersions ?? false }
    /// The parsed schedule; nil when there is none or it does not parse (validation reports it).
    public var cronSchedule: CronSchedule? { schedule.flatMap { try? CronSchedule(parsing: $0) } }
}

/// How sync decides a file is unchanged.
public enum Verify: String, Codable, Sendable, Hashable, CaseIterable {
    /// Same size and modification time.
    case size
    /// Same content digest (reads every file; slower, exact).
    case checksum
}

/// Whether a volume's PVC outlives the sessions that use it.
public struct CachePolicy: Codable, Sendable, Hashable {
    /// Keep the PVC between sessions (default true); false deletes it after a successful
    /// final sync, so the next session pulls again.
    public var retain: Bool?
    /// A Go-style duration (`30m`, `2h`, `1h30m`): how long an idle volume keeps its PVC
    /// before it is released as if `retain` were false.
    public var ttlAfterIdle: String?

    public init(retain: Bool? = nil, ttlAfterIdle: String? = nil) {
        self.retain = retain
        self.ttlAfterIdle = ttlAfterIdle
    }

    public var effectiveRetain: Bool { retain ?? true }
    /// The parsed TTL; nil when there is none or it does not parse (validation reports it).
    public var ttlAfterIdleDuration: Duration? { ttlAfterIdle.flatMap(GoDuration.parse) }
}

extension SyncRecord {
    /// The `Synced` condition's and the Event's reason for a failed sync: `DeleteGuard` for a
    /// refusal of a deletion guard, else `SyncFailed`.
    public var failureCondition: String {
        reason == SyncExitCode.guardRefused.reason ? ConditionReason.deleteGuard : ConditionReason.syncFailed
    }

    /// How many changed inputs `inputWarning` names before it summarises the rest.
    public static let warningLimit = 5

    /// `status.warning` and the `InputsChanged` event after a pull: what changed since the
    /// previous sync of the same source, with the old and new digest of each file; nil when
    /// nothing did (always so on a first pull).
    public var inputWarning: String? {
        guard direction == .pull, result == .succeeded, let inputs = changedInputs, !inputs.isEmpty else { return nil }
        let named = inputs.prefix(Self.warningLimit).map(\.description).joined(separator: "; ")
        let more = inputs.count > Self.warningLimit ? "; and \(inputs.count - Self.warningLimit) more" : ""
        return "inputs changed since the previous sync of this source: \(named)\(more)"
    }
}
