import Crypto
import Dispatch
import Foundation

extension ContentDigest {
    /// From this length on a file is hashed on threads of its own (see `of(file:length:)`).
    static let twoThreadMinimum: Int64 = 8 << 20

    /// The digest of `length` bytes of a file, read once with `pread` (the descriptor's offset
    /// never moves).
    ///
    /// A file of at least 8 MiB is hashed on two threads of its own, never on Swift's
    /// cooperative pool, which has one thread per core: a 1 GiB file takes seconds to hash,
    /// and a blocked pool thread stalls every other task of the process. One thread reads
    /// and computes SHA-256; the other computes MD5 over the same buffers, so a large file
    /// hashes at MD5's speed alone instead of MD5's and SHA-256's added up. Cancelling the
    /// calling task stops the read within 256 KiB and throws `CancellationError`.
    public static func of(file descriptor: Int32, length: Int64) async throws -> ContentDigest {
        try await hash(descriptor, length: length, parts: nil).0
    }

    /// The digest of the whole file and the `checksum` of each `partSize` part, in one read:
    /// what a multipart upload needs (SHA-256 and MD5 for the object's metadata, each part's
    /// checksum header). Hashing the parts in the same read as the whole file means the
    /// server refuses a part whose bytes changed after they were hashed, so the metadata
    /// always describes the bytes stored. Threads and cancellation as in `of(file:length:)`.
    public static func of(file descriptor: Int32, length: Int64, partSize: Int64, checksum: PartChecksum) async throws -> (ContentDigest, PartDigests) {
        precondition(partSize > 0)
        let (digest, parts) = try await hash(descriptor, length: length, parts: PartHashing(partSize: partSize, length: length, checksum: checksum))
        return (digest, parts!)
    }

    private static func hash(_ descriptor: Int32, length: Int64, parts: PartHashing?) async throws -> (ContentDigest, PartDigests?) {
        guard length >= twoThreadMinimum else {
            var hasher = Hasher()
            var parts = parts
            try read(descriptor, offset: 0, length: length) { chunk in
                hasher.update(chunk)
                parts?.update(chunk)
            }
            return (hasher.finalize(), parts?.finalize())
        }
        let job = TwoThreadHashing(descriptor: descriptor, length: length, parts: parts)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread { continuation.resume(with: Result { try job.run() }) }
            }
        } onCancel: {
            job.cancel()
        }
    }
}

/// The checksum of each `partSize` part of a file fed to it in order, in chunks of any size.
struct PartHashing {
    let partSize: Int64
    let length: Int64
    let checksum: PartChecksum
    private var part: PartChecksum.Hasher
    private var inPart: Int64 = 0
    private var values: [String] = []

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

/// One read of a file shared by two threads: the thread calling `run` reads each chunk into
/// a ring of four 256 KiB slots and computes SHA-256 and the part checksums over it; a
/// second thread computes MD5 over the same slot. A slot is read into again only after the
/// MD5 thread has released it, so both hashes (and the part checksums) always describe the
/// same bytes, even when the file changes while it is read.
private final class TwoThreadHashing: @unchecked Sendable {
    private static let slotSize = 256 << 10
    private static let slotCount = 4

    private let descriptor: Int32
    private let length: Int64
    private var parts: PartHashing?
    private let buffer = ReadBuffer(count: slotSize * slotCount)
    /// Bytes in each slot; 0 tells the MD5 thread to stop. Written by the reading thread
    /// before `filled` is signalled, read by the MD5 thread after it waited on `filled`.
    private let lengths = UnsafeMutableBufferPointer<Int>.allocate(capacity: slotCount)
    private let filled = DispatchSemaphore(value: 0)
    /// Starts at 0 and is signalled `slotCount` times: libdispatch traps when a semaphore
    /// is freed with a value below its initial one, which this one's can end at.
    private let free = DispatchSemaphore(value: 0)
    private let md5Finished = DispatchSemaphore(value: 0)
    private var md5: Insecure.MD5.Digest?
    private let cancellation = NSLock()
    private var cancelled = false

    init(descriptor: Int32, length: Int64, parts: PartHashing?) {
        self.descriptor = descriptor
        self.length = length
        self.parts = parts
        for _ in 0..<Self.slotCount { free.signal() }
    }

    deinit {
        buffer.release()
        lengths.deallocate()
    }

    func cancel() { cancellation.withLock { cancelled = true } }

    func run() throws -> (ContentDigest, PartDigests?) {
        Thread.detachNewThread { self.hashMD5() }
        var sha = SHA256()
        var done: Int64 = 0
        var index = 0
        var failure: (any Error)?
        while true {
            free.wait()
            var count = 0
            if done < length {
                do { count = try read(into: index, at: done) } catch { failure = error }
            }
            lengths[index] = count
            filled.signal()
            guard count > 0 else { break }
            let chunk = UnsafeRawBufferPointer(slot(index, count))
            sha.update(bufferPointer: chunk)
            parts?.update(chunk)
            done += Int64(count)
            index = (index + 1) % Self.slotCount
        }
        md5Finished.wait()
        if let failure { throw failure }
        return (ContentDigest(md5: SigV4Signer.hex(md5!), sha256: SigV4Signer.hex(sha.finalize())), parts?.finalize())
    }

    private func read(into index: Int, at offset: Int64) throws -> Int {
        if cancellation.withLock({ cancelled }) { throw CancellationError() }
        let want = Int(min(Int64(Self.slotSize), length - offset))
        return try ContentDigest.readChunk(descriptor, into: slot(index, want), at: offset, done: offset, of: length)
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
        self.md5 = md5.finalize()
        md5Finished.signal()
    }

    private func slot(_ index: Int, _ count: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[index * Self.slotSize..<index * Self.slotSize + count])
    }
}
