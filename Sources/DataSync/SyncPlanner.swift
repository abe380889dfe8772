import Foundation
import ObjectStore
import SyncContract

/// What one sync run will do, decided before anything moves.
public struct SyncPlan: Sendable {
    public var uploads: [LocalFile] = []
    public var downloads: [RemoteFile] = []
    public var remoteDeletes: [RemoteFile] = []
    public var localDeletes: [LocalFile] = []
    /// Files already in sync: their manifest entries carry over.
    public var unchanged: [ManifestEntry] = []
    /// Files deleted in the volume whose objects RW keeps: remembered, so a later RWD push
    /// still knows the volume deleted them.
    public var retained: [ManifestEntry] = []
    /// Files left alone because both sides or the wrong side changed, with why.
    public var conflicts: [String] = []
    /// Set when the plan must not run: deletions the guards refuse.
    public var refusal: String?

    public var deletionCount: Int { remoteDeletes.count + localDeletes.count }
}

/// Sync planning as a pure function of what both sides hold and what the last sync
/// recorded; no I/O, so every rule is unit-tested.
///
/// The rule for "unchanged": a file is in sync when the local file still has the size and
/// modification time the manifest recorded, and the object still has the ETag and size
/// recorded. Both sides are compared with the last agreed state, never with each other,
/// so a same-size edit (which `aws s3 sync` and `mc mirror` miss when times line up) is
/// seen by its new mtime or new ETag, and no object HEADs are needed. With `checksum`,
/// content hashes decide instead of times.
public enum SyncPlanner {
    public struct Options: Sendable {
        public var direction: SyncDirection
        public var mode: AccessMode
        public var checksum = false
        /// Refuse the plan when it would delete more than this; nil is no limit.
        public var maxDeletes: Int?

        public init(direction: SyncDirection, mode: AccessMode, checksum: Bool = false, maxDeletes: Int? = nil) {
            self.direction = direction
            self.mode = mode
            self.checksum = checksum
            self.maxDeletes = maxDeletes
        }
    }

    public static func plan(local: [LocalFile], remote: [RemoteFile], previous: [String: ManifestEntry], options: Options) -> SyncPlan {
        var plan = SyncPlan()
        let localByPath = Dictionary(local.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let remoteByPath = Dictionary(remote.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })

        func localChanged(_ l: LocalFile, _ m: ManifestEntry?) -> Bool {
            guard let m else { return true }
            if options.checksum, let digest = l.digest { return digest.sha256 != m.sha256 }
            return l.size != m.size || l.mtime != m.mtime
        }
        func remoteChanged(_ r: RemoteFile, _ m: ManifestEntry?) -> Bool {
            guard let m else { return true }
            return r.etag != m.etag || r.size != m.size
        }
        /// In sync: the entry to carry over, or nil.
        func inSync(_ l: LocalFile, _ r: RemoteFile, _ m: ManifestEntry?) -> ManifestEntry? {
            if options.checksum, let digest = l.digest {
                guard l.size == r.size else { return nil }
                let same: Bool
                if let m, r.etag == m.etag { same = digest.sha256 == m.sha256 } else if r.etagIsMD5 { same = digest.md5 == r.etag } else { same = false }
                return same ? ManifestEntry(path: l.path, size: l.size, mtime: l.mtime, digest: digest, etag: r.etag, versionID: m?.etag == r.etag ? m?.versionID : nil) : nil
            }
            guard let m, !localChanged(l, m), !remoteChanged(r, m) else { return nil }
            return m
        }

        switch options.direction {
        case .push:
            guard options.mode != .readOnly else {
                plan.refusal = "a read-only (RO) volume is never pushed"
                return plan
            }
            for l in local.sorted(by: { $0.path < $1.path }) {
                let m = previous[l.path]
                guard let r = remoteByPath[l.path] else { plan.uploads.append(l); continue }
                if let entry = inSync(l, r, m) {
                    plan.unchanged.append(entry)
                } else {
                    if m != nil, remoteChanged(r, m), localChanged(l, m) {
                        plan.conflicts.append("\(l.path): changed in the volume and in object storage since the last sync; the volume's version is pushed")
                    }
                    plan.uploads.append(l)
                }
            }
            if options.mode == .readWrite {
                for r in remote.sorted(by: { $0.path < $1.path }) where localByPath[r.path] == nil {
                    if let m = previous[r.path], !remoteChanged(r, m) { plan.retained.append(m) }
                }
            }
            if options.mode == .readWriteDelete {
                for r in remote.sorted(by: { $0.path < $1.path }) where localByPath[r.path] == nil {
                    // Only what this volume had and deleted is deleted: objects it never saw
                    // (added by someone else since) are not its to remove.
                    guard let m = previous[r.path] else { continue }
                    if remoteChanged(r, m) {
                        plan.conflicts.append("\(r.path): deleted in the volume but changed in object storage since the last sync; the object is kept")
                    } else {
                        plan.remoteDeletes.append(r)
                    }
                }
                if local.isEmpty && !remote.isEmpty {
                    plan.refusal = "the volume is empty while object storage holds \(remote.count) objects under the prefix; refusing to mirror an empty tree"
                }
            }

        case .pull:
            for r in remote.sorted(by: { $0.path < $1.path }) {
                let m = previous[r.path]
                guard let l = localByPath[r.path] else { plan.downloads.append(r); continue }
                if let entry = inSync(l, r, m) {
                    plan.unchanged.append(entry)
                } else if options.mode != .readOnly, let m, localChanged(l, m) {
                    // A volume change not pushed yet is never overwritten by a pull.
                    let why = remoteChanged(r, m) ? "changed in the volume and in object storage" : "changed in the volume"
                    plan.conflicts.append("\(l.path): \(why) since the last sync; the volume's version is kept")
                    plan.unchanged.append(m)
                } else {
                    plan.downloads.append(r)
                }
            }
            for l in local.sorted(by: { $0.path < $1.path }) where remoteByPath[l.path] == nil {
                if options.mode == .readOnly {
                    plan.localDeletes.append(l)
                } else if let m = previous[l.path], !localChanged(l, m) {
                    // Synced before, untouched here, gone remotely: deleted at the source.
                    plan.localDeletes.append(l)
                }
            }
            if remote.isEmpty && !plan.localDeletes.isEmpty {
                plan.refusal = "object storage holds nothing under the prefix while the volume has \(local.count) files; refusing to empty the volume"
            }
        }

        if plan.refusal == nil, let limit = options.maxDeletes, plan.deletionCount > limit {
            plan.refusal = "the plan deletes \(plan.deletionCount) files, more than --max-deletes \(limit)"
        }
        return plan
    }
}
