// bench/json/main.swift: KubeModel's JSON on a large pod list, without a cluster.
// Compiled with KubeModel's sources into one optimized module by bench/json.sh.
import Foundation

/// A list of `count` pods shaped as the apiserver writes them (numbers included: ports,
/// generation, resource versions as strings, restart counts), about 2 KiB each.
func podList(_ count: Int) -> Data {
    var s = #"{"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"123456"},"items":["#
    for i in 0..<count {
        if i > 0 { s += "," }
        s += """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"pod-\(i)","namespace":"ns-\(i % 50)","uid":"6b1f0c9e-\(i)-4a5e-9a7f-1c2d3e4f5a6b","resourceVersion":"\(100000 + i)","generation":\(i % 7 + 1),"creationTimestamp":"2026-11-22T03:18:00Z","labels":{"app":"web","tier":"frontend","pod-template-hash":"5d8f7c9b\(i % 10)"},"annotations":{"stowage.io/volumes":"data","kubectl.kubernetes.io/restartedAt":"2026-11-22T03:18:00Z"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d8f7c9b","uid":"0a1b2c3d-\(i)","controller":true,"blockOwnerDeletion":true}]},\
        "spec":{"containers":[{"name":"app","image":"registry.example/web:1.2.3","args":["--port","8080","--verbose"],"ports":[{"containerPort":8080,"protocol":"TCP","name":"http"},{"containerPort":9090,"protocol":"TCP","name":"metrics"}],"env":[{"name":"MODE","value":"production"},{"name":"RATIO","value":"0.75"},{"name":"POD","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}}],"resources":{"requests":{"cpu":"250m","memory":"256Mi"},"limits":{"cpu":"1","memory":"512Mi"}},"volumeMounts":[{"name":"data","mountPath":"/data"},{"name":"kube-api-access","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}],"terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent"}],\
        "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data-\(i)"}},{"name":"kube-api-access","projected":{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}}]}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","nodeName":"node-\(i % 20)","priority":0,"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]},\
        "status":{"phase":"Running","podIP":"10.0.\(i / 256 % 256).\(i % 256)","startTime":"2026-11-22T03:18:01Z","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-11-22T03:18:05Z"},{"type":"PodScheduled","status":"True","lastTransitionTime":"2026-11-22T03:18:00Z"}],"containerStatuses":[{"name":"app","ready":true,"restartCount":\(i % 3),"image":"registry.example/web:1.2.3","started":true,"state":{"running":{"startedAt":"2026-11-22T03:18:04Z"}}}]}}
        """
    }
    s += "]}"
    return Data(s.utf8)
}

let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 10_000
let runs = Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 15
let data = podList(count)

/// The median CPU time of the calling thread, in ms: less moved by other processes on a
/// busy machine than wall time.
func median(_ body: () throws -> Void) rethrows -> Double {
    func cpu() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) * 1e3 + Double(t.tv_nsec) / 1e6
    }
    var times: [Double] = []
    for _ in 0..<runs {
        let start = cpu()
        try body()
        times.append(cpu() - start)
    }
    return times.sorted()[runs / 2]
}

var tree: JSONValue = .null
let parse = try median { tree = try JSONValue(parsing: data) }
var pods = 0
let decode = try median {
    // As ResourceClient.decodeList does: parse once, decode each item from the tree.
    guard case .object(let list) = try JSONValue(parsing: data), case .array(let items)? = list["items"] else { fatalError() }
    pods = 0
    for item in items { _ = try item.decode(as: Pod.self); pods += 1 }
}
var written = 0
let write = median { written = tree.text.utf8.count }
precondition(pods == count)
print("JSONValue: size \(MemoryLayout<JSONValue>.size), stride \(MemoryLayout<JSONValue>.stride)")
print(String(format: "%d pods, %.1f MiB: parse %.1f ms (%.0f MiB/s), parse+decode %.1f ms, write %.1f ms (CPU time, median of %d)",
             count, Double(data.count) / 1048576, parse, Double(data.count) / 1048576 / (parse / 1e3), decode, write, runs))
