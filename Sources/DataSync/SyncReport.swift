import Foundation

/// What a sync run did, printed as the JSON summary and recorded in DataVolume status.
public struct SyncReport: Sendable, Codable {
    public var direction: SyncDirection
    public var mode: SyncMode
    public var source: String
    public var dryRun: Bool
    public var uploaded = 0
    public var downloaded = 0
    public var bytesTransferred: Int64 = 0
    public var deletedRemote = 0
    public var deletedLocal = 0
    public var unchanged = 0
    public var conflicts: [String] = []
    public var warnings: [String] = []
    public var failures: [String] = []
    /// Digest of the manifest written; nil in dry runs and failed runs.
    public var manifestDigest: String?
    /// Files whose content differs from the previous manifest: Valohai-style input changes.
    public var changedSinceLastSync = ChangedInputs()
    /// The planned actions, listed in dry runs.
    public var planned: [String]?
    public var seconds = 0.0

    public struct ChangedInputs: Sendable, Codable {
        public var added: [String] = []
        public var modified: [String] = []
        public var removed: [String] = []
        public var isEmpty: Bool { added.isEmpty && modified.isEmpty && removed.isEmpty }
    }

    public init(direction: SyncDirection, mode: SyncMode, source: String, dryRun: Bool) {
        self.direction = direction
        self.mode = mode
        self.source = source
        self.dryRun = dryRun
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// The content changes between two manifests, at most `limit` paths per kind.
    static func changes(from previous: [String: ManifestEntry], to current: [ManifestEntry], limit: Int = 100) -> ChangedInputs {
        var changes = ChangedInputs()
        var seen = Set<String>()
        for entry in current {
            seen.insert(entry.path)
            if let old = previous[entry.path] {
                if old.sha256 != entry.sha256, changes.modified.count < limit { changes.modified.append(entry.path) }
            } else if changes.added.count < limit {
                changes.added.append(entry.path)
            }
        }
        for path in previous.keys.sorted() where !seen.contains(path) && changes.removed.count < limit {
            changes.removed.append(path)
        }
        return changes
    }
}
