// stowage-bench: the Kubernetes-client half of bench/kubeclient.sh.
//
//   stowage-bench create NAMESPACE COUNT [CONCURRENCY]   create COUNT ConfigMaps of ~1 KiB
//   stowage-bench list                                   listAll(limit 500) across all namespaces
//   stowage-bench watch COUNT                            watch from resourceVersion 0 until COUNT
//                                                        ADDED events are decoded
//   stowage-bench dv-create NAMESPACE COUNT              create COUNT DataVolumes without source
//   stowage-bench dv-wait NAMESPACE COUNT [PHASES]       return once COUNT DataVolumes are Ready
//                                                        (or in any of PHASES, comma-separated)
//   stowage-bench dv-floor NAMESPACE QPS BURST [WORKERS] the operator's writes for each DataVolume
//                                                        (finalizer, claim, event, two status
//                                                        writes) by a bare client at QPS
//   stowage-bench webhook-cost DIR [ROUNDS]              CPU per admission review, no network
//                                                        (bench/webhook-cost.sh; WebhookCost.swift)
//   stowage-bench webhook-serve DIR PORT                 the same behind the real TLS server, until
//                                                        DIR/stop exists (BENCH_TLS=1 webhook-cost.sh)
//   stowage-bench metrics-cost BACKEND [VOLUMES] [SCRAPES]
//                                                        the Prometheus registry with VOLUMES
//                                                        volumes' series (bench/metrics.sh;
//                                                        MetricsCost.swift)
//
// Each command prints one JSON line on stdout with what it measured (wall time inside the
// process); bench/kubeclient.sh wraps it in /usr/bin/time -v for peak RSS.
import Foundation
import KubeClient
import KubeModel
import StowageAPI

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

func dvCreate(namespace: String, count: Int) async throws {
    let client = try makeClient(qps: 100_000, burst: 100_000)
    let api = client.resource(DataVolume.self, namespace: namespace)
    let clock = ContinuousClock()
    let start = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for chunk in stride(from: 0, to: count, by: count / 32 + 1) {
            group.addTask {
                for i in chunk..<min(count, chunk + count / 32 + 1) {
                    _ = try await api.create(DataVolume(name: String(format: "dv-%05d", i), spec: DataVolumeSpec(size: "1Gi")))
                }
            }
        }
        try await group.waitForAll()
    }
    print(#"{"command":"dv-create","count":\#(count),"seconds":\#(seconds(clock.now - start))}"#)
}

/// Watches until `count` DataVolumes are in one of `phases`; the time is from this command's start.
func dvWait(namespace: String, count: Int, phases: Set<String> = ["Ready"]) async throws {
    let client = try makeClient()
    let api = client.resource(DataVolume.self, namespace: namespace)
    let clock = ContinuousClock()
    let start = clock.now
    var ready = Set<String>()
    func arrived(_ dv: DataVolume) -> Bool { dv.status?.phase.map { phases.contains($0.rawValue) } ?? false }
    let (items, version) = try await api.listAll()
    for dv in items where arrived(dv) { ready.insert(dv.metadata.name ?? "") }
    var resourceVersion = version
    while ready.count < count {
        for try await event in try await api.watch(WatchOptions(resourceVersion: resourceVersion)) {
            switch event {
            case .added(let dv), .modified(let dv):
                resourceVersion = dv.metadata.resourceVersion ?? resourceVersion
                if arrived(dv) { ready.insert(dv.metadata.name ?? "") }
            case .bookmark(let v): resourceVersion = v
            case .deleted: break
            }
            if ready.count >= count { break }
        }
    }
    print(#"{"command":"dv-wait","ready":\#(ready.count),"seconds":\#(seconds(clock.now - start))}"#)
    exit(0)
}

/// The floor: what the operator writes per DataVolume without a source, by a bare client at
/// the operator's QPS, with the same concurrency as its workers.
func dvFloor(namespace: String, qps: Double, burst: Int, workers: Int = 4) async throws {
    let client = try makeClient(qps: qps, burst: burst)
    let volumes = try await client.resource(DataVolume.self, namespace: namespace).listAll().items
    let clock = ContinuousClock()
    let start = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<workers {
            group.addTask {
                for dv in volumes.enumerated().filter({ $0.offset % workers == w }).map(\.element) {
                    let name = dv.metadata.name ?? ""
                    let dvs = client.resource(DataVolume.self, namespace: namespace)
                    var current = try await dvs.patch(name, .json, [["op": "add", "path": "/metadata/finalizers", "value": ["bench/floor"]]])
                    var claim = PersistentVolumeClaim(metadata: ObjectMeta(name: "floor-" + name, namespace: namespace),
                                                      spec: .init(accessModes: ["ReadWriteOnce"], storage: "1Gi"))
                    claim.metadata.ownerReferences = [OwnerReference(controller: current)]
                    _ = try await client.resource(PersistentVolumeClaim.self, namespace: namespace).create(claim)
                    var event = Event(metadata: ObjectMeta(name: "floor-" + name, namespace: namespace), involvedObject: ObjectReference(current))
                    event.reason = "ClaimCreated"
                    event.message = "created claim floor-\(name)"
                    _ = try await client.resource(Event.self, namespace: namespace).create(event)
                    current.status = VolumeStatus(phase: .pending, claimName: "floor-" + name, observedGeneration: 1)
                    current = try await dvs.updateStatus(current)
                    current.status?.phase = .ready
                    _ = try await dvs.updateStatus(current)
                }
            }
        }
        try await group.waitForAll()
    }
    print(#"{"command":"dv-floor","count":\#(volumes.count),"seconds":\#(seconds(clock.now - start))}"#)
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
    case "dv-create" where args.count == 3:
        try await dvCreate(namespace: args[1], count: Int(args[2]) ?? 0)
    case "dv-wait" where args.count == 3 || args.count == 4:
        let phases = args.count == 4 ? Set(args[3].split(separator: ",").map(String.init)) : ["Ready"]
        try await dvWait(namespace: args[1], count: Int(args[2]) ?? 0, phases: phases)
    case "dv-floor" where args.count >= 4:
        try await dvFloor(namespace: args[1], qps: Double(args[2]) ?? 50, burst: Int(args[3]) ?? 100,
                          workers: args.count > 4 ? Int(args[4]) ?? 4 : 4)
    case "webhook-cost" where args.count >= 2:
        try webhookCost(directory: args[1], rounds: args.count > 2 ? Int(args[2]) ?? 20 : 20)
    case "webhook-serve" where args.count == 3:
        guard let port = Int(args[2]) else { fail("PORT must be a number") }
        try await webhookServe(directory: args[1], port: port)
    case "metrics-cost" where args.count >= 2:
        metricsCost(backend: args[1], volumes: args.count > 2 ? Int(args[2]) ?? 10_000 : 10_000,
                    scrapes: args.count > 3 ? Int(args[3]) ?? 20 : 20)
    default:
        fail("usage: stowage-bench create NAMESPACE COUNT [CONCURRENCY] | list | watch COUNT | dv-create NAMESPACE COUNT | dv-wait NAMESPACE COUNT | dv-floor NAMESPACE QPS BURST [WORKERS] | webhook-cost DIR [ROUNDS] | webhook-serve DIR PORT | metrics-cost BACKEND [VOLUMES] [SCRAPES]")
    }
} catch {
    fail("\(error)")
}
