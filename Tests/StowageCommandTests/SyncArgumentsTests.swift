import ArgumentParser
import Controllers
import KubeModel
@testable import stowage
import StowageAPI
import SyncContract
import Testing

/// The two ends of the sync-pod contract: the command lines the operator writes for sync
/// pods, read back by `stowage sync`'s own parser, are the arguments the operator meant.
@Suite struct SyncArgumentsTests {
    static let owner = OwnerReference(apiVersion: StowageGroup.apiVersion, kind: "DataVolume", name: "results", uid: "u1")

    static func request(direction: SyncDirection, access: AccessMode, _ change: (inout SyncJobRequest) -> Void = { _ in }) -> SyncJobRequest {
        let credentials = LocalObjectReference(name: "creds")
        var request = SyncJobRequest(
            name: "dv-results-sync-1", number: 4, namespace: "team-a", owner: owner, labels: [:], claimName: "dv-results",
            direction: direction, access: access,
            source: S3Source(endpoint: "https://s3.example.com", bucket: "bucket", prefix: "/runs/7/", credentialsSecretRef: credentials),
            sync: SyncPolicy(), generation: 3, reason: "test")
        change(&request)
        return request
    }

    /// Every option the operator can set, in the combinations it writes.
    static let requests: [SyncJobRequest] = [
        request(direction: .pull, access: .readOnly),
        request(direction: .pull, access: .readOnly) { $0.version = "latest" },
        request(direction: .pull, access: .readWriteDelete) { $0.sync.verify = .checksum },
        request(direction: .push, access: .readWrite) { $0.sync.keepVersions = true },
        request(direction: .push, access: .readWriteDelete) {
            $0.sync.maxDeletes = 12
            $0.source?.region = "eu-west-3"
            $0.source?.pathStyle = false
            $0.source?.partChecksum = .md5
            $0.source?.caBundleSecretRef = SecretKeySelector(name: "ca", key: "ca.pem")
        },
        request(direction: .pull, access: .readOnly) {
            $0.source = nil
            $0.http = HTTPSource(urls: [HTTPFile(url: "https://data.example.org/iris.csv", checksum: "sha256:" + String(repeating: "ab", count: 32)),
                                        HTTPFile(url: "https://data.example.org/get?id=2", path: "two.csv")])
        },
    ]

    @Test(arguments: requests)
    func theCommandReadsBackWhatTheOperatorWrote(_ request: SyncJobRequest) throws {
        var settings = SyncPodSettings()
        settings.progressIntervalSeconds = 15
        let job = SyncJob.build(request, settings: settings)
        let container = try #require(job.spec?.template.spec.containers.first)
        let line = try #require(container.args)
        #expect(line.first == SyncArguments.command)
        let parsed = try Stowage.parseAsRoot(line)
        let command = try #require(parsed as? SyncCommand, "\(type(of: parsed))")
        #expect(command.arguments == SyncJob.arguments(request, settings: settings))
    }

    @Test func anOptionAtItsDefaultIsLeftOutAndReadBackAsTheDefault() throws {
        let arguments = SyncArguments(direction: .push, source: .s3("s3://bucket/p"), directory: "/data")
        #expect(arguments.commandLine == ["sync", "push", "s3://bucket/p", "/data", "--mode", "RW"])
        let command = try #require(try Stowage.parseAsRoot(arguments.commandLine) as? SyncCommand)
        #expect(command.arguments == arguments)
    }

    @Test func everyFlagIsOneTheCommandDeclares() {
        let help = Stowage.helpMessage(for: SyncCommand.self)
        for flag in SyncArguments.Flag.allCases {
            #expect(help.contains(flag.option), "\(flag.option) is not in stowage sync --help")
        }
    }
}
