import ArgumentParser
import Foundation
import ObjectStore

/// `stowage presign`: a time-limited download link for people outside the cluster.
struct PresignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presign",
        abstract: "Print a pre-signed GET URL for s3://BUCKET/KEY that anyone can download until it expires."
    )

    @Argument(help: "s3://BUCKET/KEY")
    var url: String

    @Option(help: "How long the link works: e.g. 30m, 1h, 7d (at most 7d).")
    var expires = "1h"

    @OptionGroup var s3: S3Options

    func run() async throws {
        let target = try S3URL(url)
        guard !target.key.isEmpty else { throw ValidationError("\(url) names no object") }
        guard let duration = Self.parse(expires) else { throw ValidationError("--expires \(expires) is not a duration like 30m, 1h or 7d") }
        print(try s3.client().presignedURL(bucket: target.bucket, key: target.key, expires: duration))
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
