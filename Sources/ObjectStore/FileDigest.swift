import Crypto
import Dispatch
import Foundation

extension ContentDigest {
    /// From this length on a file is hashed on threads of its own (see `of(file:length:algorithms:)`).
    static let ownThreadsMinimum: Int64 = 8 << 20

    /// The digest of `length` bytes of a file, read once with `pread` (the descriptor's offset
    /// never moves).
    ///
    /// A file of at least 8 MiB is hashed on threads of its own (`FileHashing`), never on
    /// Swift's cooperative pool, which has one thread per core: a 1 GiB file takes seconds to
    /// hash, and a blocked pool thread stalls every other task of the process. One thread
    /// reads and computes SHA-256 and SHA-1; another computes MD5 over the same buffers, so a
    /// large file hashes at MD5's speed alone instead of all three added up. Cancelling the
    /// calling task stops the read within 256 KiB and throws `CancellationError`.
    ///
    /// SHA-256 is always computed; a digest left out of `algorithms` is empty.
    public static func of(file descriptor: Int32, length: Int64, algorithms: Algorithms = .all) async throws -> ContentDigest {
        try await hash(descriptor, length: length, algorithms: algorithms, parts: nil).0
    }

    /// The digest of the whole file and the `checksum` of each `partSize` part, in one read.
    /// Threads and cancellation as in `of(file:length:algorithms:)`. (A multipart upload
    /// does not wait for this: `S3Client.uploadFile` hashes as it sends, with `FileHashing`.)
    public static func of(file descriptor: Int32, length: Int64, partSize: Int64, checksum: PartChecksum) async throws -> (ContentDigest, PartDigests) {
        precondition(partSize > 0)
        let (digest, parts) = try await hash(descriptor, length: length, algorithms: .all, parts: PartHashing(partSize: partSize, length: length, checksum: checksum))
        return (digest, parts!)
    }

    private static func hash(_ descriptor: Int32, length: Int64, algorithms: Algorithms, parts: PartHashing?) async throws -> (ContentDigest, PartDigests?) {
        guard length >= ownThreadsMinimum else {
            var hasher = Hasher(algorithms)
            var parts = parts
            try read(descriptor, offset: 0, length: length) { chunk in
                hasher.update(chunk)
                parts?.update(chunk)
            }
            return (hasher.finalize(), parts?.finalize())
        }
        let hashing = FileHashing(descriptor: descriptor, algorithms: algorithms, parts: parts)
        return try await hashing.finish(length: length)
    }
}

/// The checksum of each `partSize` part of a file fed to it in order, in chunks of any size.
struct PartHashing {
    let partSize: Int64
    let length: Int64
    let checksum: PartChecksum
    private var part: PartChecksum.Hasher
    private var inPart: Int64 = 0
    /// The checksums of the parts finished so far, in order.
    private(set) var values: [String] = []

    init(partSize: Int64, length: Int64, checksum: PartChecksum) {
        self.partSize = partSize
        self.length = length
        self.checksum = checksum
        part = PartChecksum.Hasher(checksum)
    }

    mutating func update(_ chunk: UnsafeRawBufferPointer) {
        var rest = chunk
        while !rest.isEmpty {
            let take = Int(min(Int64(rest.count), partSize - inPart))
            part.update(UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            inPart += Int64(take)
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if inPart == partSize {
                values.append(part.finalize())
                part = PartChecksum.Hasher(checksum)
                inPart = 0
            }
        }
    }

    func finalize() -> PartDigests {
        var values = values
        if inPart > 0 || values.isEmpty { values.append(part.finalize()) }
        return PartDigests(partSize: partSize, length: length, checksum: checksum, values: values)
    }
}

/// Hashes a file on threads of its own, never on Swift's cooperative pool, reading it once
/// from the start as far as the caller lets it: all of it at once for an upload, or part by
/// part as a parallel download makes the front of the file final (`advance(to:)`).
///
/// The reading thread reads each chunk into a ring of four 256 KiB slots and computes
/// SHA-256, SHA-1 and the part checksums over it; with MD5, a second thread computes MD5
/// over the same slot. A slot is read into again only after the MD5 thread has released it,
/// so every hash (and the part checksums) always describes the same bytes, even when the
/// file changes while it is read.
///
/// A multipart upload reads each part's checksum as soon as the reading thread has passed
/// the part's end (`partChecksum(_:)`), so its first part goes out after 16 MiB are hashed,
/// not after the whole file.
final class FileHashing: @unchecked Sendable {
    private static let slotSize = 256 << 10
    private static let slotCount = 4

    private let descriptor: Int32
    private let md5: Bool
    private let sha1: Bool
    private var parts: PartHashing?
    private let buffer: ReadBuffer
    /// Bytes in each slot; 0 tells the MD5 thread to stop. Written by the reading thread
    /// before `filled` is signalled, read by the MD5 thread after it waited on `filled`.
    private let lengths = UnsafeMutableBufferPointer<Int>.allocate(capacity: slotCount)
    private let filled = DispatchSemaphore(value: 0)
    /// Starts at 0 and is signalled `slotCount` times: libdispatch traps when a semaphore
    /// is freed with a value below its initial one, which this one's can end at.
    private let free = DispatchSemaphore(value: 0)
    private let md5Finished = DispatchSemaphore(value: 0)
    private var md5Digest: Insecure.MD5.Digest?

    /// What the callers and the reading thread share, under `condition`.
    private let condition = NSCondition()
    private var readable: Int64 = 0
    private var length: Int64?
    private var cancelled = false
    private var outcome: Result<(ContentDigest, PartDigests?), any Error>?
    private var waiter: CheckedContinuation<(ContentDigest, PartDigests?), any Error>?
    /// The part checksums published so far, and the callers waiting for later ones.
    private var publishedParts: [String] = []
    private var partWaiters: [(index: Int, continuation: CheckedContinuation<String, any Error>)] = []

    init(descriptor: Int32, algorithms: ContentDigest.Algorithms, parts: PartHashing? = nil) {
        self.descriptor = descriptor
        md5 = algorithms.contains(.md5)
        sha1 = algorithms.contains(.sha1)
        self.parts = parts
        buffer = ReadBuffer(count: Self.slotSize * (md5 ? Self.slotCount : 1))
        for _ in 0..<Self.slotCount { free.signal() }
        Thread.detachNewThread { self.readAndHash() }
    }

    deinit {
        buffer.release()
        lengths.deallocate()
    }

    /// The bytes before `offset` are final and may be hashed.
    func advance(to offset: Int64) {
        condition.withLock {
            readable = max(readable, offset)
            condition.signal()
        }
    }

    /// The file is final and `length` bytes long: read all of it (an upload).
    func start(length: Int64) {
        condition.withLock {
            self.length = length
            readable = max(readable, length)
            condition.signal()
        }
    }

    /// Stops the hashing within a chunk; `finish` and `partChecksum` then throw
    /// `CancellationError`.
    func cancel() {
        condition.withLock {
            cancelled = true
            condition.signal()
        }
    }

    /// The checksum of part `index` (from 0) of the `PartHashing` this was given, once the
    /// reading thread has hashed the whole part. Cancelling the calling task cancels the
    /// hashing.
    func partChecksum(_ index: Int) async throws -> String {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<String, any Error>? = condition.withLock {
                    if index < publishedParts.count { return .success(publishedParts[index]) }
                    if case .failure(let error) = outcome { return .failure(error) }
                    if outcome != nil { return .failure(Self.noPart(index, of: publishedParts.count)) }
                    partWaiters.append((index, continuation))
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The digest of the file's first `length` bytes (all of them final by now), and its
    /// part checksums when it was given `parts`. Cancelling the calling task cancels the
    /// hashing.
    func finish(length: Int64) async throws -> (ContentDigest, PartDigests?) {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let done = condition.withLock {
                    self.length = length
                    readable = max(readable, length)
                    condition.signal()
                    if outcome == nil { waiter = continuation }
                    return outcome
                }
                if let done { continuation.resume(with: done) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The reading thread: reads, computes SHA-256, SHA-1 and the part checksums, hands each
    /// slot to the MD5 thread, and delivers the outcome to `finish` and `partChecksum`.
    private func readAndHash() {
        if md5 { Thread.detachNewThread { self.hashMD5() } }
        var sha = SHA256()
        var sha1 = self.sha1 ? Insecure.SHA1() : nil
        var done: Int64 = 0
        var index = 0
        var failure: (any Error)?
        while true {
            if md5 { free.wait() }
            var count = 0
            do {
                if let limit = try waitForBytes(after: done) { count = try read(into: index, at: done, upTo: limit) }
            } catch {
                failure = error
            }
            if md5 {
                lengths[index] = count
                filled.signal()
            }
            guard count > 0 else { break }
            let chunk = UnsafeRawBufferPointer(slot(index, count))
            sha.update(bufferPointer: chunk)
            sha1?.update(bufferPointer: chunk)
            if parts != nil {
                let before = parts!.values.count
                parts!.update(chunk)
                if parts!.values.count > before { publish(parts!.values) }
            }
            done += Int64(count)
            if md5 { index = (index + 1) % Self.slotCount }
        }
        if md5 { md5Finished.wait() }
        let finalParts = failure == nil ? parts?.finalize() : nil
        let result: Result<(ContentDigest, PartDigests?), any Error> = if let failure { .failure(failure) } else {
            .success((ContentDigest(md5: md5Digest.map { SigV4Signer.hex($0) } ?? "", sha1: sha1.map { SigV4Signer.hex($0.finalize()) } ?? "",
                                    sha256: SigV4Signer.hex(sha.finalize())), finalParts))
        }
        let (waiter, partWaiters) = condition.withLock {
            defer { self.waiter = nil; self.partWaiters = [] }
            outcome = result
            if let finalParts { publishedParts = finalParts.values }
            return (self.waiter, self.partWaiters)
        }
        waiter?.resume(with: result)
        let published = condition.withLock { publishedParts }
        for (index, continuation) in partWaiters {
            switch result {
            case .failure(let error): continuation.resume(throwing: error)
            case .success where index < published.count: continuation.resume(returning: published[index])
            case .success: continuation.resume(throwing: Self.noPart(index, of: published.count))
            }
        }
    }

    private static func noPart(_ index: Int, of count: Int) -> S3Error {
        S3Error(.invalidResponse, "no part \(index + 1) in a file of \(count) parts", operation: "digest")
    }

    /// Makes the finished part checksums visible and wakes whoever waits for one of them.
    private func publish(_ values: [String]) {
        let ready = condition.withLock {
            publishedParts = values
            let ready = partWaiters.filter { $0.index < values.count }
            partWaiters.removeAll { $0.index < values.count }
            return ready
        }
        for (index, continuation) in ready { continuation.resume(returning: values[index]) }
    }

    /// How far the file may be read, once that is beyond `done`; nil once `done` is the
    /// whole length.
    private func waitForBytes(after done: Int64) throws -> Int64? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if cancelled { throw CancellationError() }
            if readable > done { return readable }
            if let length, done >= length { return nil }
            condition.wait()
        }
    }

    private func read(into index: Int, at offset: Int64, upTo limit: Int64) throws -> Int {
        let want = Int(min(Int64(Self.slotSize), limit - offset))
        return try ContentDigest.readChunk(descriptor, into: slot(index, want), at: offset, done: offset, of: limit)
    }

    private func hashMD5() {
        var md5 = Insecure.MD5()
        var index = 0
        while true {
            filled.wait()
            let count = lengths[index]
            guard count > 0 else { break }
            md5.update(bufferPointer: UnsafeRawBufferPointer(slot(index, count)))
            free.signal()
            index = (index + 1) % Self.slotCount
        }
        md5Digest = md5.finalize()
        md5Finished.signal()
    }

    private func slot(_ index: Int, _ count: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[index * Self.slotSize..<index * Self.slotSize + count])
    }
}
