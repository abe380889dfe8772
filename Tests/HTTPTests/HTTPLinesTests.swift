import Foundation
@testable import HTTP
import Testing

/// Splitting a streamed body into lines, with chunks cut anywhere (no network).
@Suite struct HTTPLinesTests {
    func body(_ chunks: [String]) -> HTTPBody {
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        for chunk in chunks { continuation.yield(Data(chunk.utf8)) }
        continuation.finish()
        return HTTPBody(stream: stream, flow: FlowControl(limit: 1 << 20, resume: {}))
    }

    func lines(_ chunks: [String]) async throws -> [String] {
        var result: [String] = []
        for try await line in body(chunks).lines { result.append(String(decoding: line, as: UTF8.self)) }
        return result
    }

    @Test func linesCutAcrossChunksComeOutWhole() async throws {
        #expect(try await lines(["{\"a\"", ":1}\n{\"b\":2}\n{", "\"c\"", ":3}\n"]) == [#"{"a":1}"#, #"{"b":2}"#, #"{"c":3}"#])
        #expect(try await lines(["one\n\ntwo"]) == ["one", "", "two"])
        #expect(try await lines(["\n", "\n"]) == ["", ""])
        #expect(try await lines([]) == [])
        #expect(try await lines(["no newline at all"]) == ["no newline at all"])
    }

    /// A watch delivers events for minutes: what was returned must not stay buffered.
    @Test func returnedLinesAreNotKept() async throws {
        let line = String(repeating: "x", count: 1_000) + "\n"
        // Each chunk ends inside the next line, so the buffer is never simply empty.
        let chunks = (0..<2_000).map { _ in String(line.dropFirst(10)) + String(line.prefix(10)) }
        var iterator = body([String(line.prefix(10))] + chunks).lines.makeAsyncIterator()
        var count = 0
        var largest = 0
        while let next = try await iterator.next() {
            #expect(next.count == 1_000 || count == 2_000)
            largest = max(largest, iterator.buffer.count)
            count += 1
        }
        #expect(count == 2_001)
        #expect(largest < 3 * line.utf8.count)
    }
}
