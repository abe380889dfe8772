// stowage-bench: the Kubernetes-client half of bench/kubeclient.sh.
//
//   stowage-bench create NAMESPACE COUNT [CONCURRENCY]   create COUNT ConfigMaps of ~1 KiB
//   stowage-bench list                                   listAll(limit 500) across all namespaces
//   stowage-bench watch COUNT                            watch from resourceVersion 0 until COUNT
//                                                        ADDED events are decoded
//
// Each command prints one JSON line on stdout with what it measured (wall time inside the
// process); bench/kubeclient.sh wraps it in /usr/bin/time -v for peak RSS.
import Foundation
import KubeClient
import KubeModel

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("stowage-bench: \(message)\n".utf8))
    exit(1)
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func makeClient(qps: Double = 50, burst: Int = 100) throws -> KubeClient {
    var options = KubeClient.Options()
    options.qps = qps
    options.burst = burst
    options.requestTimeout = .seconds(120)
    options.userAgent = "stowage-bench"
    return KubeClient(connection: try KubeConfig.load(path: nil).connection(), options: options)
}

/// ~1 KiB of data per ConfigMap (the serialized object is ~1.2 KiB with metadata).
func payload(_ i: Int) -> [String: String] {
    let line = String(repeating: "stowage-bench-\(i % 10) ", count: 64)
    return ["payload": String(line.prefix(1000)), "index": "\(i)"]
}

func create(namespace: String, count: Int, concurrency: Int) async throws {
    // A high client-side limit: the apiserver, not the token bucket, is the bottleneck here.
    let client = try makeClient(qps: 100_000, burst: 100_000)
    let configMaps = client.resource(ConfigMap.self, namespace: namespace)
    let clock = ContinuousClock()
    let start = clock.now
    var created = 0, existed = 0
    try await withThrowingTaskGroup(of: Bool.self) { group in
        var next = 0
        func add() {
            let i = next
            next += 1
            group.addTask {
                let object = ConfigMap(metadata: ObjectMeta(name: String(format: "bench-%05d", i), namespace: namespace,
                                                            labels: ["app": "stowage-bench"]),
                                       data: payload(i))
                do {
                    _ = try await configMaps.create(object)
                    return true
                } catch let error as KubeClientError where error.apiCode == .alreadyExists {
                    return false
                }
            }
        }
        while next < min(concurrency, count) { add() }
        while let fresh = try await group.next() {
            if fresh { created += 1 } else { existed += 1 }
            if next < count { add() }
        }
    }
    let elapsed = seconds(clock.now - start)
    print(#"{"command":"create","created":\#(created),"existed":\#(existed),"seconds":\#(elapsed),"perSecond":\#(Double(created) / elapsed)}"#)
}

func list() async throws {
    let client = try makeClient()
    let clock = ContinuousClock()
    let start = clock.now
    let (items, resourceVersion) = try await client.resource(ConfigMap.self).listAll(ListOptions(limit: 500))
    let elapsed = seconds(clock.now - start)
    // Touch the decoded data so nothing is optimized away.
    let bytes = items.reduce(0) { $0 + ($1.data?.values.reduce(0) { $0 + $1.utf8.count } ?? 0) }
    print(#"{"command":"list","items":\#(items.count),"dataBytes":\#(bytes),"resourceVersion":"\#(resourceVersion)","seconds":\#(elapsed)}"#)
}

func watch(count: Int) async throws {
    let client = try makeClient()
    let clock = ContinuousClock()
    let start = clock.now
    var options = WatchOptions(resourceVersion: "0")
    options.allowBookmarks = false
    let events = try await client.resource(ConfigMap.self).watch(options)
    var seen = 0, bytes = 0
    var firstEvent: ContinuousClock.Instant?
    for try await event in events {
        if firstEvent == nil { firstEvent = clock.now }
        if case .added(let object) = event {
            seen += 1
            bytes += object.data?["payload"]?.utf8.count ?? 0
        }
        if seen >= count { break }
    }
    let end = clock.now
    guard seen >= count else { fail("watch ended after \(seen) of \(count) events") }
    let total = seconds(end - start)
    let afterFirst = seconds(end - (firstEvent ?? start))
    print(#"{"command":"watch","events":\#(seen),"dataBytes":\#(bytes),"seconds":\#(total),"secondsAfterFirstEvent":\#(afterFirst),"eventsPerSecond":\#(Double(seen) / total)}"#)
    // The watch stays open until its server-side timeout; we are done.
    exit(0)
}

let args = Array(CommandLine.arguments.dropFirst())
do {
    switch args.first {
    case "create" where args.count >= 3:
        guard let count = Int(args[2]) else { fail("COUNT must be a number") }
        try await create(namespace: args[1], count: count, concurrency: args.count > 3 ? Int(args[3]) ?? 32 : 32)
    case "list":
        try await list()
    case "watch" where args.count == 2:
        guard let count = Int(args[1]) else { fail("COUNT must be a number") }
        try await watch(count: count)
    default:
        fail("usage: stowage-bench create NAMESPACE COUNT [CONCURRENCY] | list | watch COUNT")
    }
} catch {
    fail("\(error)")
}
