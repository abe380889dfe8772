import ArgumentParser
import DataSync
import Foundation
import ObjectStore

/// `stowage purge`: frees what pushes with keepVersions kept, version by version, oldest first.
struct PurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Remove the object versions that only versions older than the latest N name under s3://BUCKET/PREFIX, and those versions' manifests.",
        discussion: """
        Never removes what one of the latest N versions names, an object's current version, or an \
        object version no version manifest names. Prints one line per removal and a summary; \
        --dry-run prints the same and changes nothing. Run it while nothing pushes to the prefix. \
        Exit codes as for `stowage sync`.
        """
    )

    @Argument(help: "s3://BUCKET/PREFIX")
    var url: String

    @Option(help: "How many of the latest versions to keep whole (at least 1).")
    var keep: Int

    @Flag(help: "List what would be removed and change nothing.")
    var dryRun = false

    @OptionGroup var s3: S3Options

    func validate() throws {
        guard keep >= 1 else { throw ValidationError("--keep must be at least 1: the latest version is never purged") }
    }

    func run() async throws {
        do {
            let target = try S3URL(url)
            let client = try s3.client()
            let plan = try await VersionPurge.plan(client: client, bucket: target.bucket, prefix: target.key, keep: keep)
            let verb = dryRun ? "would remove" : "remove"
            for removal in plan.removals { print("\(verb) \(removal.line)") }
            let summary = "\(plan.kept.count) versions kept (latest \(plan.kept.last?.id ?? "none")), \(plan.purged.count) purged: "
                + "\(plan.removals.count) removals, \(plan.bytes) bytes"
            guard !dryRun else {
                print("dry run: \(summary); nothing was changed")
                return
            }
            let failed = try await VersionPurge.run(plan, client: client, bucket: target.bucket)
            guard failed.isEmpty else {
                FileHandle.standardError.write(Data("stowage purge: \(failed.count) removals failed, first: \(failed[0]); run it again to finish\n".utf8))
                throw ExitCode(2)
            }
            print(summary)
        } catch let error as ExitCode {
            throw error
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("stowage purge: \(error)\n".utf8))
            throw ExitCode(SyncExit.code(for: error))
        }
    }
}
