import ArgumentParser
import DataSync
import Foundation
import ObjectStore

/// `stowage versions`: the versions pushes left under a prefix, newest first.
struct VersionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "versions",
        abstract: "List the versions pushed to s3://BUCKET/PREFIX, newest first: time, identifier, files, bytes and the volume that pushed it.",
        discussion: "Every successful push leaves an immutable version manifest under PREFIX/.stowage/versions/. Exit codes as for `stowage sync`."
    )

    @Argument(help: "s3://BUCKET/PREFIX")
    var url: String

    @OptionGroup var s3: S3Options

    @Flag(help: "Print a JSON array instead of a table.")
    var json = false

    func run() async throws {
        do {
            let target = try S3URL(url)
            let versions = try await VersionListing.summaries(client: try s3.client(), bucket: target.bucket, prefix: target.key)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(versions), as: UTF8.self))
                return
            }
            guard !versions.isEmpty else {
                FileHandle.standardError.write(Data("no versions under \(url): nothing was pushed there with version manifests\n".utf8))
                return
            }
            print(["TIME", "VERSION", "FILES", "BYTES", "VOLUME"].joined(separator: "\t"))
            for version in versions {
                print([version.time.formatted(.iso8601), version.id, String(version.files), String(version.bytes), version.volume ?? "-"].joined(separator: "\t"))
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("stowage versions: \(error)\n".utf8))
            throw ExitCode(SyncExit.code(for: error))
        }
    }
}
