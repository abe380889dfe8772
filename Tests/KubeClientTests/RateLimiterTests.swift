import Foundation
import Testing
@testable import KubeClient
@testable import KubeModel

@Suite struct RateLimiterTests {
    @Test func burstThenSteadyRate() async throws {
        let bucket = TokenBucket(qps: 20, burst: 5)
        let clock = ContinuousClock()
        let burst = try await clock.measure { for _ in 0..<5 { try await bucket.acquire() } }
        #expect(burst < .milliseconds(40), "the burst is available at once")
        let steady = try await clock.measure { for _ in 0..<10 { try await bucket.acquire() } }
        // 10 more tokens at 20/s cannot come sooner than 0.5 s.
        #expect(steady >= .milliseconds(450))
    }

    @Test func apiErrorCodesFromStatus() {
        func code(_ http: Int, _ reason: String?) -> KubeAPIError.Code { KubeAPIError.code(httpStatus: http, reason: reason) }
        #expect(code(410, "Expired") == .gone)
        #expect(code(200, "Expired") == .gone)
        #expect(code(409, "AlreadyExists") == .alreadyExists)
        #expect(code(409, "Conflict") == .conflict)
        #expect(code(422, "Invalid") == .invalid)
        #expect(code(429, "TooManyRequests") == .tooManyRequests)
        #expect(code(503, "ServiceUnavailable") == .serverError)
        let e = KubeAPIError(httpStatus: 429, body: Data(#"{"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":3}}"#.utf8), retryAfterHeader: nil)
        #expect(e.retryAfter == .seconds(3))
        #expect(e.isRetryable)
        let header = KubeAPIError(httpStatus: 429, body: Data(), retryAfterHeader: "7")
        #expect(header.retryAfter == .seconds(7))
    }

    @Test func preservingUnknownFields() {
        let original: JSONValue = ["a": 1, "unknown": "keep", "list": [["name": "x", "extra": true, "v": 1]], "gone": 5]
        let known: JSONValue = ["a": 1, "list": [["name": "x", "v": 1]], "gone": 5]
        let typed: JSONValue = ["a": 2, "list": [["name": "x", "v": 3]]]
        let merged = JSONValue.preservingUnknown(original: original, known: known, typed: typed)
        #expect(merged == ["a": 2, "unknown": "keep", "list": [["name": "x", "extra": true, "v": 3]]])
    }

    /// Cases where matching by `name` was wrong: list elements are matched by their list-map
    /// keys, whatever their order, and atomic lists by position only.
    @Test func listElementsAreMatchedByTheirListMapKeys() {
        func merged(_ original: JSONValue, _ known: JSONValue, _ typed: JSONValue) -> JSONValue {
            .preservingUnknown(original: original, known: known, typed: typed)
        }
        // One volume mounted twice (the same name): the mount at /a is dropped, the one at /b
        // keeps its unknown field.
        let mounts: JSONValue = ["volumeMounts": [["name": "data", "mountPath": "/a", "x": 1], ["name": "data", "mountPath": "/b", "x": 2]]]
        let mountsKnown: JSONValue = ["volumeMounts": [["name": "data", "mountPath": "/a"], ["name": "data", "mountPath": "/b"]]]
        #expect(merged(mounts, mountsKnown, ["volumeMounts": [["name": "data", "mountPath": "/b"]]])
                == ["volumeMounts": [["name": "data", "mountPath": "/b", "x": 2]]])
        // Container ports have no names; reordered, each keeps its own unknown field, and a
        // port without a protocol is the TCP one.
        let pod: JSONValue = ["spec": ["containers": [["name": "c", "ports": [
            ["containerPort": 80, "protocol": "TCP", "x": "web"], ["containerPort": 80, "protocol": "UDP", "x": "dns"], ["containerPort": 9090, "x": "metrics"]]]]]]
        let podKnown: JSONValue = ["spec": ["containers": [["name": "c", "ports": [
            ["containerPort": 80, "protocol": "TCP"], ["containerPort": 80, "protocol": "UDP"], ["containerPort": 9090]]]]]]
        #expect(merged(pod, podKnown, ["spec": ["containers": [["name": "c", "ports": [
            ["containerPort": 9090, "protocol": "TCP"], ["containerPort": 80, "protocol": "UDP"], ["containerPort": 80]]]]]])
                == ["spec": ["containers": [["name": "c", "ports": [
            ["containerPort": 9090, "protocol": "TCP", "x": "metrics"], ["containerPort": 80, "protocol": "UDP", "x": "dns"], ["containerPort": 80, "x": "web"]]]]]])
        // Conditions by type, one replaced by another of the same length: the new one has
        // nothing of the old one's.
        let status: JSONValue = ["status": ["conditions": [["type": "Ready", "status": "True", "x": 1], ["type": "Synced", "status": "True", "x": 2]]]]
        let statusKnown: JSONValue = ["status": ["conditions": [["type": "Ready", "status": "True"], ["type": "Synced", "status": "True"]]]]
        #expect(merged(status, statusKnown, ["status": ["conditions": [["type": "Synced", "status": "False"], ["type": "Failed", "status": "True"]]]])
                == ["status": ["conditions": [["type": "Synced", "status": "False", "x": 2], ["type": "Failed", "status": "True"]]]])
        // Owner references by uid, not by name (two owners of one name).
        let owners: JSONValue = ["metadata": ["ownerReferences": [["name": "o", "uid": "1", "x": 1], ["name": "o", "uid": "2", "x": 2]]]]
        let ownersKnown: JSONValue = ["metadata": ["ownerReferences": [["name": "o", "uid": "1"], ["name": "o", "uid": "2"]]]]
        #expect(merged(owners, ownersKnown, ["metadata": ["ownerReferences": [["name": "o", "uid": "2"]]]])
                == ["metadata": ["ownerReferences": [["name": "o", "uid": "2", "x": 2]]]])
        // An atomic list (tolerations) whose elements have names is matched by position while
        // it keeps its length, and taken as written otherwise.
        let tolerations: JSONValue = ["tolerations": [["name": "a", "key": "k1", "x": 1], ["name": "b", "key": "k2", "x": 2]]]
        let tolerationsKnown: JSONValue = ["tolerations": [["name": "a", "key": "k1"], ["name": "b", "key": "k2"]]]
        #expect(merged(tolerations, tolerationsKnown, ["tolerations": [["name": "a", "key": "k1"], ["name": "b", "key": "k3"]]])
                == ["tolerations": [["name": "a", "key": "k1", "x": 1], ["name": "b", "key": "k3", "x": 2]]])
        #expect(merged(tolerations, tolerationsKnown, ["tolerations": [["name": "b", "key": "k2"]]]) == ["tolerations": [["name": "b", "key": "k2"]]])
    }
}

/// What an update sends: the object as read, with its changes, unknown fields kept exactly.
@Suite struct UpdateBodyTests {
    @Test func unknownNumbersSurviveAnUpdateExactly() throws {
        let read = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","generation":9223372036854775806},"data":{"k":"v"},"# +
            #""extra":{"big":9007199254740993,"wide":123456789012345678901234567890,"huge":1e400,"tenth":0.1,"list":[-9007199254740993,2.50]}}"#
        var object = try ResourceClient<ConfigMap>.decodeObject(Data(read.utf8))
        #expect(object.metadata.generation == 9_223_372_036_854_775_806)
        object.data?["k"] = "changed"
        let sent = String(decoding: try ResourceClient<ConfigMap>.encodeObject(object), as: UTF8.self)
        #expect(sent.contains(#""data":{"k":"changed"}"#), "the change is sent: \(sent)")
        #expect(sent.contains(#""extra":{"big":9007199254740993,"huge":1e400,"list":[-9007199254740993,2.50],"tenth":0.1,"wide":123456789012345678901234567890}"#),
                "unknown numbers go back as they came: \(sent)")
        #expect(sent.contains(#""generation":9223372036854775806"#), "\(sent)")
    }
}
