import ArgumentParser
import Foundation
import HTTP
import ObjectStore

/// `stowage presign`: a time-limited download (or upload) link for people outside the
/// cluster, Nuvla's pre-signed download and upload actions.
struct PresignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presign",
        abstract: "Print a pre-signed URL for s3://BUCKET/KEY that anyone can download (GET) or upload (PUT, e.g. curl -T FILE URL) until it expires."
    )

    /// What the link lets its holder do.
    enum Method: String, ExpressibleByArgument, CaseIterable {
        case GET, PUT
    }

    @Option(help: "GET (download) or PUT (upload the object, e.g. with curl -T FILE URL).")
    var method: Method = .GET

    @Argument(help: "s3://BUCKET/KEY")
    var url: String

    @Option(help: "How long the link works: e.g. 30m, 1h, 7d (at most 7d).")
    var expires = "1h"

    @OptionGroup var s3: S3Options

    func run() async throws {
        let target = try S3URL(url)
        guard !target.key.isEmpty else { throw ValidationError("\(url) names no object") }
        guard let duration = Self.parse(expires) else { throw ValidationError("--expires \(expires) is not a duration like 30m, 1h or 7d") }
        print(try s3.client().presignedURL(bucket: target.bucket, key: target.key, expires: duration, method: method == .PUT ? .put : .get))
    }

    static func parse(_ text: String) -> Duration? {
        guard let unit = text.last, let value = Int(text.dropLast()), value > 0 else { return Int(text).map { .seconds($0) } }
        switch unit {
        case "s": return .seconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3600)
        case "d": return .seconds(value * 86400)
        default: return nil
        }
    }
}
