import Foundation
import ObjectStore

/// What `stowage purge s3://BUCKET/PREFIX --keep N` removes: the object versions that only
/// versions older than the latest `N` name, and those versions' manifests.
///
/// Never removed: anything one of the latest `N` manifests names, any object's current
/// version (what a plain pull reads, whoever wrote it), and any object version no manifest
/// names (not Stowage's to judge). A delete marker goes only with the last version of its
/// key that the purge removes, since it then hides nothing. Object versions are removed
/// before the manifests that name them, so a purge stopped half-way is finished by running
/// it again.
public struct PurgePlan: Sendable {
    public struct Removal: Sendable, Hashable {
        public var key: String
        /// Nil on a bucket without versioning (a manifest there is removed by key).
        public var versionID: String?
        public var size: Int64
        public var kind: Kind

        public enum Kind: String, Sendable, Hashable {
            case object = "object version"
            case deleteMarker = "delete marker"
            case manifest = "version manifest"
        }

        /// One line as `stowage purge` prints it.
        public var line: String { "\(kind.rawValue) \(key)" + (versionID.map { " \($0)" } ?? "") + (kind == .deleteMarker ? "" : " (\(size) bytes)") }
    }

    /// The versions kept and purged, oldest first.
    public var kept: [VersionKey]
    public var purged: [VersionKey]
    /// Object versions and delete markers first, then the manifests.
    public var removals: [Removal]
    public var bytes: Int64 { removals.reduce(0) { $0 + $1.size } }
}

public enum VersionPurge {
    /// Decides what a purge of `s3://bucket/prefix` keeping the latest `keep` versions
    /// removes; reads every manifest (a GET each) and lists the object versions once.
    public static func plan(client: S3Client, bucket: String, prefix: String, keep: Int) async throws -> PurgePlan {
        precondition(keep >= 1, "the latest version is always kept")
        let keyPrefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        let listing = VersionListing(objects: try await client.listObjects(bucket: bucket, prefix: keyPrefix + VersionKey.directory), keyPrefix: keyPrefix)
        let kept = Array(listing.keys.suffix(keep))
        let purged = Array(listing.keys.dropLast(keep))
        guard !purged.isEmpty else { return PurgePlan(kept: kept, purged: [], removals: []) }

        func entries(_ versions: [VersionKey]) async throws -> [ManifestEntry] {
            var all: [ManifestEntry] = []
            for version in versions {
                all += try VersionManifest.decode(try await client.getObject(bucket: bucket, key: VersionListing.key(version, keyPrefix: keyPrefix))).entries
            }
            return all
        }
        struct Reference: Hashable { var key: String; var versionID: String }
        func references(_ entries: [ManifestEntry]) -> Set<Reference> {
            Set(entries.compactMap { entry in entry.versionID.map { Reference(key: keyPrefix + entry.path, versionID: $0) } })
        }
        let protected = references(try await entries(kept))
        let candidates = references(try await entries(purged)).subtracting(protected)

        let all = try await client.listObjectVersions(bucket: bucket, prefix: keyPrefix)
        var removals: [PurgePlan.Removal] = []
        var removedByKey: [String: Int] = [:]
        for version in all where !version.isDeleteMarker && !version.isLatest
            && candidates.contains(Reference(key: version.key, versionID: version.versionID)) {
            removals.append(.init(key: version.key, versionID: version.versionID, size: version.size, kind: .object))
            removedByKey[version.key, default: 0] += 1
        }
        // A key left with delete markers only: the markers hide nothing any more.
        let versionsByKey = Dictionary(grouping: all.filter { !$0.isDeleteMarker }, by: \.key).mapValues(\.count)
        for marker in all where marker.isDeleteMarker {
            if let removed = removedByKey[marker.key], removed == versionsByKey[marker.key] {
                removals.append(.init(key: marker.key, versionID: marker.versionID, size: 0, kind: .deleteMarker))
            }
        }
        removals.sort { ($0.key, $0.versionID ?? "") < ($1.key, $1.versionID ?? "") }

        // Every version of the purged manifests' objects (a versioned bucket keeps a
        // manifest deleted by key as a noncurrent version).
        let keptKeys = Set(kept.map { VersionListing.key($0, keyPrefix: keyPrefix) })
        for version in purged {
            let key = VersionListing.key(version, keyPrefix: keyPrefix)
            guard !keptKeys.contains(key) else { continue }
            let stored = all.filter { $0.key == key }
            if stored.isEmpty || stored.allSatisfy({ $0.versionID == "null" }) {
                removals.append(.init(key: key, versionID: nil, size: stored.first?.size ?? 0, kind: .manifest))
            } else {
                removals += stored.map { .init(key: key, versionID: $0.versionID, size: $0.size, kind: .manifest) }
            }
        }
        return PurgePlan(kept: kept, purged: purged, removals: removals)
    }

    /// Removes what `plan` lists, object versions before manifests; returns the removals S3
    /// refused, with why.
    public static func run(_ plan: PurgePlan, client: S3Client, bucket: String) async throws -> [String] {
        let objects = plan.removals.filter { $0.kind != .manifest }
        let manifests = plan.removals.filter { $0.kind == .manifest }
        var failed = try await client.deleteObjects(bucket: bucket, versions: objects.map { ($0.key, $0.versionID) })
        // A manifest whose objects could not all be removed stays, so that a later purge finds them again.
        guard failed.isEmpty else { return failed.map { "\($0.key): \($0.error)" } }
        failed = try await client.deleteObjects(bucket: bucket, versions: manifests.map { ($0.key, $0.versionID) })
        return failed.map { "\($0.key): \($0.error)" }
    }
}
