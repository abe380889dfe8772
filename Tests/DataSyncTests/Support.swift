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

/// Writes `data` to `path` under `dir`, creating its directories.
func writeFile(_ dir: String, _ path: String, _ data: Data) throws {
    let full = dir + "/" + path
    try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try data.write(to: URL(fileURLWithPath: full))
}

/// `count` random bytes.
func randomData(_ count: Int) -> Data {
    var data = Data(count: (count + 7) / 8 * 8)
    var generator = SystemRandomNumberGenerator()
    data.withUnsafeMutableBytes { raw in
        for i in raw.bindMemory(to: UInt64.self).indices { raw.storeBytes(of: generator.next(), toByteOffset: i * 8, as: UInt64.self) }
    }
    return data.prefix(count)
}

/// The hex digest `tool` (`md5sum`, `sha1sum`, `sha256sum`) prints for the file at `path`:
/// digests checked against tools that share no code with Stowage.
func coreutilsDigest(_ tool: String, _ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/" + tool)
    process.arguments = [path]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return String(text.prefix { $0 != " " })
}
