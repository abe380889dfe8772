import Foundation
import SyncContract

/// What a sync run did, printed as the JSON summary and recorded in DataVolume status.
public struct SyncReport: Sendable, Codable {
    public var direction: SyncDirection
    public var mode: AccessMode
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
    /// The identifier of the version manifest a push left (`PREFIX/.stowage/versions/`), or
    /// of the version a pinned pull brought in; nil for other pulls, dry runs and failures.
    public var version: String?
    /// Files whose content differs from the previous manifest: Valohai-style input changes.
    public var changedSinceLastSync = ChangedInputs()
    /// The planned actions, listed in dry runs.
    public var planned: [String]?
    public var seconds = 0.0

    public struct ChangedInputs: Sendable, Codable {
        public var added: [String] = []
        public var modified: [String] = []
        public var removed: [String] = []
        /// Every path above with its SHA-256 before and after, in that order (added, then
        /// modified, then removed).
        public var changes: [Change] = []
        public var isEmpty: Bool { added.isEmpty && modified.isEmpty && removed.isEmpty }
    }

    /// One changed file: its content digest in the previous sync and in this one (hex
    /// SHA-256; nil where the file did not exist).
    public struct Change: Sendable, Codable, Hashable {
        public var path: String
        public var previousSHA256: String?
        public var sha256: String?
    }

    public init(direction: SyncDirection, mode: AccessMode, source: String, dryRun: Bool) {
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
        var added: [Change] = [], modified: [Change] = [], removed: [Change] = []
        var seen = Set<String>()
        for entry in current {
            seen.insert(entry.path)
            if let old = previous[entry.path] {
                if old.sha256 != entry.sha256, modified.count < limit {
                    modified.append(Change(path: entry.path, previousSHA256: old.sha256, sha256: entry.sha256))
                }
            } else if added.count < limit {
                added.append(Change(path: entry.path, previousSHA256: nil, sha256: entry.sha256))
            }
        }
        for path in previous.keys.sorted() where !seen.contains(path) && removed.count < limit {
            removed.append(Change(path: path, previousSHA256: previous[path]?.sha256, sha256: nil))
        }
        changes.added = added.map(\.path)
        changes.modified = modified.map(\.path)
        changes.removed = removed.map(\.path)
        changes.changes = added + modified + removed
        return changes
    }
}
