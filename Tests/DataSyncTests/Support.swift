import Foundation
import KubeTesting
import ObjectStore

extension TestEnvironment {
    /// A client of the test S3 server with small thresholds, so a few MiB exercise multipart
    /// uploads and ranged downloads.
    func smallPartsClient() throws -> S3Client {
        var config = S3Configuration(endpoint: s3Endpoint, credentials: S3Credentials(accessKeyID: s3AccessKey, secretAccessKey: s3SecretKey))
        config.multipartThreshold = 6 << 20
        config.partSize = 5 << 20
        return try S3Client(configuration: config)
    }
}

/// A new directory of its own under the temporary directory.
func scratchDirectory(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
