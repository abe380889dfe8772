import Foundation
import KubeModel

/// Which way a sync moved data.
public enum SyncDirection: String, Codable, Sendable, Hashable, CaseIterable {
    /// Object storage to the volume.
    case pull
    /// The volume to object storage.
    case push
}

public enum SyncResult: String, Codable, Sendable, Hashable, CaseIterable {
    case succeeded = "Succeeded"
    case failed = "Failed"
}

/// The outcome of the most recent sync, as `kubectl get dv` and users read it.
public struct SyncRecord: Codable, Sendable, Hashable {
    public var direction: SyncDirection
    public var start: Date?
    public var end: Date?
    public var result: SyncResult
    public var files: Int?
    public var bytes: Int64?
    public var deleted: Int?
    /// Digest of the manifest the sync produced (what the volume held afterwards).
    public var manifestDigest: String?
    /// A push's version: the identifier of the version manifest it left in the bucket
    /// (`PREFIX/.stowage/versions/`); for a pinned pull, the version it brought in.
    public var version: String?
    /// Why it failed, or a short summary; never contains secrets.
    public var message: String?
    /// Why it failed, in one word: the `SyncExitCode.reason` of the sync's exit status
    /// (`DeleteGuard` for a refusal of a deletion guard, say); nil after a success.
    public var reason: String?
    /// A pull's files whose content differs from the previous sync of the same source
    /// (never set on a first pull), with both digests.
    public var changedInputs: [ChangedInput]?

    public init(direction: SyncDirection, result: SyncResult, start: Date? = nil, end: Date? = nil,
                files: Int? = nil, bytes: Int64? = nil, deleted: Int? = nil, manifestDigest: String? = nil,
                version: String? = nil, message: String? = nil, reason: String? = nil, changedInputs: [ChangedInput]? = nil) {
        self.direction = direction
        self.result = result
        self.start = start
        self.end = end
        self.files = files
        self.bytes = bytes
        self.deleted = deleted
        self.manifestDigest = manifestDigest
        self.version = version
        self.message = message
        self.reason = reason
        self.changedInputs = changedInputs
    }
}

extension SyncRecord {
    /// The most a pod's termination message holds (Kubernetes cuts the rest).
    public static let terminationMessageLimit = 4096

    /// The record as a sync pod leaves it in its termination message, which the operator
    /// reads back (`init(terminationMessage:)`): JSON of at most `limit` bytes. The list of
    /// changed inputs is cut first, then the message.
    public func terminationMessage(limit: Int = terminationMessageLimit) -> String {
        var record = self
        func json() -> String { (try? String(decoding: JSONEncoder.kube.encode(record), as: UTF8.self)) ?? "{}" }
        while json().utf8.count > limit, let inputs = record.changedInputs, !inputs.isEmpty {
            record.changedInputs = Array(inputs.prefix(inputs.count / 2))
        }
        if json().utf8.count > limit, let message = record.message { record.message = String(message.prefix(2000)) }
        return json()
    }

    /// The record a sync pod left in its termination message; nil when the message is not
    /// one (a pod that died before writing it leaves its last log lines instead).
    public init?(terminationMessage: String) {
        guard let record = try? JSONDecoder.kube.decode(SyncRecord.self, from: Data(terminationMessage.utf8)) else { return nil }
        self = record
    }
}

/// One file of a pull whose content differs from the previous sync of the same source.
public struct ChangedInput: Codable, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    /// Hex SHA-256 of the content at the previous sync; nil for a new file.
    public var previousSHA256: String?
    /// Hex SHA-256 of the content now; nil for a removed file.
    public var sha256: String?

    public init(path: String, previousSHA256: String?, sha256: String?) {
        self.path = path
        self.previousSHA256 = previousSHA256
        self.sha256 = sha256
    }

    private enum CodingKeys: String, CodingKey { case path, previousSHA256, sha256 }

    /// Also reads what operators before 0.2 wrote: the path alone, as a string. A status an
    /// older operator left must never stop a newer one from listing its volumes.
    public init(from decoder: any Decoder) throws {
        if let path = try? decoder.singleValueContainer().decode(String.self) {
            self.init(path: path, previousSHA256: nil, sha256: nil)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(path: try c.decode(String.self, forKey: .path),
                  previousSHA256: try c.decodeIfPresent(String.self, forKey: .previousSHA256),
                  sha256: try c.decodeIfPresent(String.self, forKey: .sha256))
    }

    /// `data/a.csv sha256:1f...→sha256:9c...`, `new.csv added sha256:...`, `old.csv removed (was sha256:...)`.
    public var description: String {
        switch (previousSHA256, sha256) {
        case let (old?, new?): "\(path) sha256:\(old) -> sha256:\(new)"
        case let (nil, new?): "\(path) added sha256:\(new)"
        case let (old?, nil): "\(path) removed (was sha256:\(old))"
        case (nil, nil): path
        }
    }
}
