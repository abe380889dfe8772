import Controllers
import Foundation
import KubeModel
import StowageAPI
import SyncContract
import Testing

/// The sync Job of a volume with `spec.source.http`: `stowage sync pull DIR --mode RO --http
/// ...`, each value the `HTTPFile.argument` that `stowage sync` parses back, no credentials.
@Suite struct SyncJobHTTPTests {
    static let sha = String(repeating: "0f", count: 32)

    func request(_ http: HTTPSource) -> SyncJobRequest {
        var request = SyncJobRequest(
            name: "stowage-dv-mnist-pull-0123abcd", number: 2, namespace: "ns",
            owner: OwnerReference(apiVersion: "stowage.io/v1alpha1", kind: "DataVolume", name: "mnist", uid: "u1"),
            labels: ["stowage.io/datavolume": "mnist"], claimName: "dv-mnist", direction: .pull, access: .readOnly,
            source: nil, sync: SyncPolicy(runAsUser: 1234), generation: 3, reason: "initial pull")
        request.http = http
        return request
    }

    @Test func theCommandLineListsEveryURLWithItsChecksumAndPath() throws {
        let files = [HTTPFile(url: "https://data.example.org/mnist/train.csv", checksum: "sha256:\(Self.sha)"),
                     HTTPFile(url: "https://data.example.org/mnist/t10k.csv?download=1", path: "test/t10k.csv")]
        let job = SyncJob.build(request(HTTPSource(urls: files)), settings: SyncPodSettings())
        let pod = try #require(job.spec?.template.spec)
        let container = try #require(pod.containers.first)
        let arguments = SyncJob.arguments(request(HTTPSource(urls: files)), settings: SyncPodSettings())
        #expect(container.args == arguments.commandLine)
        #expect(arguments.direction == .pull && arguments.mode == .readOnly && arguments.directory == "/data")
        // What the sync pod parses back is what the spec said.
        guard case .http(let values) = arguments.source else {
            Issue.record("not an HTTP source: \(arguments.source)")
            return
        }
        #expect(values == ["https://data.example.org/mnist/train.csv#checksum=sha256:\(Self.sha)",
                           "https://data.example.org/mnist/t10k.csv?download=1#path=test/t10k.csv"])
        #expect(try values.map { try HTTPFile(argument: $0) } == files)
        #expect(container.env == nil, "no credentials for an http source")
        #expect(container.securityContext?.readOnlyRootFilesystem == true && pod.securityContext?.runAsUser == 1234)
        #expect(pod.volumes?.count == 1)
        #expect(job.metadata.labels?[StowageKeys.syncDirection] == "pull")
        #expect(job.metadata.annotations?[SyncJob.generationAnnotation] == "3" && SyncJob.number(job) == 2)
    }

    @Test func aCABundleIsMountedAsForS3() throws {
        let http = HTTPSource(urls: [HTTPFile(url: "https://internal.example.org/a.bin")], caBundleSecretRef: SecretKeySelector(name: "corp-ca", key: "ca.pem"))
        let job = SyncJob.build(request(http), settings: SyncPodSettings())
        let container = try #require(job.spec?.template.spec.containers.first)
        #expect(SyncJob.arguments(request(http), settings: SyncPodSettings()).caBundle == "/etc/stowage/ca/ca.pem")
        #expect(container.volumeMounts?.contains { $0.mountPath == "/etc/stowage/ca" && $0.readOnly == true } == true)
        #expect(job.spec?.template.spec.volumes?.count == 2)
    }
}
