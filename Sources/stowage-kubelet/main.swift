// stowage-kubelet NAMESPACE ROOT STOWAGE_BINARY: plays the kubelet for Stowage's sync pods in
// NAMESPACE (see KubeletHarness), mapping each claim to ROOT/NAMESPACE/CLAIM. For the demo.
import Foundation
import KubeClient
import KubeTesting

let args = Array(CommandLine.arguments.dropFirst())
guard args.count == 3 else {
    FileHandle.standardError.write(Data("usage: stowage-kubelet NAMESPACE ROOT STOWAGE_BINARY\n".utf8))
    exit(64)
}
let client = KubeClient(connection: try KubeConfig.load(path: nil).connection())
let harness = KubeletHarness(client: client, namespace: args[0], root: args[1], binary: args[2])
try await harness.run()
