import Foundation
import Synchronization

/// A response body delivered as it arrives.
///
/// The transfer pauses when `streamBufferLimit` bytes wait unread and resumes as the reader
/// catches up, so a slow reader never makes the process buffer without bound. Ending the
/// iteration early, or cancelling the reading task, aborts the transfer.
public struct HTTPBody: AsyncSequence, Sendable {
    public typealias Element = Data
    let stream: AsyncThrowingStream<Data, any Error>
    let flow: FlowControl

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Data, any Error>.AsyncIterator
        let flow: FlowControl

        public mutating func next() async throws -> Data? {
            guard let chunk = try await base.next() else {
                // A stream ends quietly when its reader is cancelled; say so, or a cut-off
                // body would look complete.
                try Task.checkCancellation()
                return nil
            }
            flow.consumed(chunk.count)
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), flow: flow)
    }

    /// The whole body, refusing more than `limit` bytes.
    public func collect(upTo limit: Int) async throws -> Data {
        var data = Data()
        for try await chunk in self {
            guard data.count + chunk.count <= limit else {
                throw HTTPError(.bodySinkFailed, "response body larger than \(limit) bytes")
            }
            data.append(chunk)
        }
        return data
    }

    /// The body split at newlines, each line without its `\n` (a watch's JSON events).
    public var lines: HTTPLines { HTTPLines(body: self) }
}

/// Newline-delimited records of a streamed body, each delivered as soon as its newline is in.
public struct HTTPLines: AsyncSequence, Sendable {
    public typealias Element = Data
    let body: HTTPBody

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPBody.AsyncIterator
        /// Bytes received and not yet returned start at `start`; no newline before `scanned`.
        /// Returned lines are dropped before the buffer grows: a watch stays open for
        /// minutes, and a buffer that kept them (as a `Data` slice does when appended to)
        /// would grow by every event the watch ever delivered.
        var buffer: [UInt8] = []
        var start = 0
        var scanned = 0
        var finished = false

        public mutating func next() async throws -> Data? {
            while true {
                if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Data(buffer[start..<newline])
                    start = newline + 1
                    scanned = start
                    return line
                }
                scanned = buffer.count
                if finished {
                    guard start < buffer.count else { return nil }
                    defer { (buffer, start, scanned) = ([], 0, 0) }
                    return Data(buffer[start...])
                }
                if let chunk = try await chunks.next() {
                    if start > 0 {
                        buffer.removeSubrange(0..<start)
                        scanned -= start
                        start = 0
                    }
                    buffer.append(contentsOf: chunk)
                } else {
                    finished = true
                }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: body.makeAsyncIterator()) }
}

/// Back-pressure between libcurl's write callback (transfer thread) and the body reader.
final class FlowControl: Sendable {
    private struct State {
        var buffered = 0
        var paused = false
    }
    private let state = Mutex(State())
    let limit: Int
    private let resume: @Sendable () -> Void

    init(limit: Int, resume: @escaping @Sendable () -> Void) {
        self.limit = limit
        self.resume = resume
    }

    /// Called on the transfer thread before delivering `count` bytes; false means "pause".
    func admit(_ count: Int) -> Bool {
        state.withLock { s in
            if s.buffered > 0 && s.buffered + count > limit {
                s.paused = true
                return false
            }
            s.buffered += count
            return true
        }
    }

    func consumed(_ count: Int) {
        let wake = state.withLock { s in
            s.buffered -= count
            guard s.paused && s.buffered <= limit / 2 else { return false }
            s.paused = false
            return true
        }
        if wake { resume() }
    }
}
