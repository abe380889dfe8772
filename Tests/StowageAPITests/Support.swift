import Foundation
import KubeModel
@testable import StowageAPI

/// The package root, found from this file's location (Tests/StowageAPITests/Support.swift).
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The paths of `samples/*.yaml`, sorted.
func samplePaths() throws -> [String] {
    let dir = packageRoot + "/samples"
    return try FileManager.default.contentsOfDirectory(atPath: dir)
        .filter { $0.hasSuffix(".yaml") }.sorted().map { dir + "/" + $0 }
}

/// A valid S3 source for tests to vary.
func s3Source(bucket: String = "team-data", prefix: String? = "a/b") -> DataSource {
    DataSource(s3: S3Source(endpoint: "https://s3.example.org", bucket: bucket, prefix: prefix,
                            credentialsSecretRef: LocalObjectReference(name: "s3-credentials")))
}

extension [FieldError] {
    var fields: [String] { map(\.field) }
}
