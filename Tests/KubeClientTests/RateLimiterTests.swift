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
