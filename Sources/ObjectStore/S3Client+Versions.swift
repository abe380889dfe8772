import Foundation
import HTTP

/// A bucket's object versioning (GetBucketVersioning).
public enum BucketVersioning: String, Sendable, Hashable {
    /// Every write and delete keeps the version it replaces.
    case enabled = "Enabled"
    /// Versioning was on and is paused: new writes replace the `null` version in place.
    case suspended = "Suspended"
    /// Never enabled: a write replaces the object, a delete removes it.
    case off
}

/// One version of an object, or a delete marker, as ListObjectVersions shows it.
public struct S3ObjectVersion: Sendable, Hashable {
    public var key: String
    public var versionID: String
    /// Whether it is the key's current version (what a GET without `versionId` answers).
    public var isLatest: Bool
    public var isDeleteMarker: Bool
    public var size: Int64
    public var etag: String

    public init(key: String, versionID: String, isLatest: Bool, isDeleteMarker: Bool, size: Int64 = 0, etag: String = "") {
        self.key = key
        self.versionID = versionID
        self.isLatest = isLatest
        self.isDeleteMarker = isDeleteMarker
        self.size = size
        self.etag = etag
    }
}

extension S3Client {
    /// The bucket's versioning state (GetBucketVersioning): a bucket whose versioning was
    /// never set answers an empty configuration, which is `off`.
    public func bucketVersioning(_ bucket: String) async throws -> BucketVersioning {
        let response = try await send(Call(operation: "GetBucketVersioning", method: .get, bucket: bucket, query: [("versioning", "")]))
        let root = try XMLNode.parse(response.body)
        // AWS and SeaweedFS answer `VersioningConfiguration`, moto `GetBucketVersioningResponse`.
        guard root.name == "VersioningConfiguration" || root.name == "GetBucketVersioningResponse" else {
            throw S3Error(.invalidResponse, "expected VersioningConfiguration, got \(root.name)", status: response.status, operation: "GetBucketVersioning", bucket: bucket)
        }
        return root["Status"].flatMap { BucketVersioning(rawValue: $0.text) } ?? .off
    }

    /// Every object version and delete marker under `prefix` (ListObjectVersions, page by
    /// page), with which one is each key's current one.
    public func listObjectVersions(bucket: String, prefix: String) async throws -> [S3ObjectVersion] {
        var versions: [S3ObjectVersion] = []
        var marker: (key: String, version: String)?
        repeat {
            var query = [("versions", "")]
            if !prefix.isEmpty { query.append(("prefix", prefix)) }
            if let marker { query += [("key-marker", marker.key), ("version-id-marker", marker.version)] }
            let response = try await send(Call(operation: "ListObjectVersions", method: .get, bucket: bucket, query: query))
            let root = try XMLNode.parse(response.body)
            guard root.name == "ListVersionsResult" else {
                throw S3Error(.invalidResponse, "expected ListVersionsResult, got \(root.name)", status: response.status, operation: "ListObjectVersions", bucket: bucket)
            }
            for (entries, isMarker) in [(root.all("Version"), false), (root.all("DeleteMarker"), true)] {
                for entry in entries {
                    guard let key = entry["Key"]?.text, let id = entry["VersionId"]?.text else { continue }
                    versions.append(S3ObjectVersion(key: key, versionID: id, isLatest: entry["IsLatest"]?.text == "true", isDeleteMarker: isMarker,
                                                    size: Int64(entry["Size"]?.text ?? "") ?? 0, etag: Self.unquote(entry["ETag"]?.text ?? "")))
                }
            }
            marker = nil
            if root["IsTruncated"]?.text == "true", let key = root["NextKeyMarker"]?.text {
                marker = (key, root["NextVersionIdMarker"]?.text ?? "")
            }
        } while marker != nil
        return versions
    }
}
