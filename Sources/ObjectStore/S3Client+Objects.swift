import Foundation
import HTTP

extension S3Client {
    /// Every object under `prefix`, following ListObjectsV2 continuation tokens page by
    /// page (1,000 keys each).
    public func listObjects(bucket: String, prefix: String = "", pageSize: Int = 1000) async throws -> [S3Object] {
        var objects: [S3Object] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("max-keys", String(pageSize))]
            if !prefix.isEmpty { query.append(("prefix", prefix)) }
            if let token { query.append(("continuation-token", token)) }
            let response = try await send(Call(operation: "ListObjectsV2", method: .get, bucket: bucket, query: query))
            let root = try XMLNode.parse(response.body)
            guard root.name == "ListBucketResult" else {
                throw S3Error(.invalidResponse, "expected ListBucketResult, got \(root.name)", status: response.status, operation: "ListObjectsV2", bucket: bucket)
            }
            for entry in root.all("Contents") {
                guard let key = entry["Key"]?.text else { continue }
                objects.append(S3Object(
                    key: key,
                    size: Int64(entry["Size"]?.text ?? "") ?? 0,
                    etag: Self.unquote(entry["ETag"]?.text ?? ""),
                    lastModified: S3Time.parseISO8601(entry["LastModified"]?.text ?? "") ?? Date(timeIntervalSince1970: 0)))
            }
            let truncated = root["IsTruncated"]?.text == "true"
            token = truncated ? root["NextContinuationToken"]?.text : nil
            if truncated && token == nil {
                throw S3Error(.invalidResponse, "truncated listing without a continuation token", operation: "ListObjectsV2", bucket: bucket)
            }
        } while token != nil
        return objects
    }

    /// Fails with `noSuchBucket`, an authorization code, or a transport error unless the
    /// bucket exists and the credentials may use it: a cheap check before a long run.
    public func checkBucket(_ bucket: String) async throws {
        _ = try await send(Call(operation: "ListObjectsV2", method: .get, bucket: bucket, query: [("list-type", "2"), ("max-keys", "1")]))
    }

    public func createBucket(_ bucket: String) async throws {
        _ = try await send(Call(operation: "CreateBucket", method: .put, bucket: bucket))
    }

    /// Every object version and delete marker in `bucket` (ListObjectVersions, page by page).
    public func listObjectVersions(bucket: String) async throws -> [(key: String, versionID: String)] {
        try await listObjectVersions(bucket: bucket, prefix: "").map { ($0.key, $0.versionID) }
    }

    /// Turns on object versioning for `bucket` (PutBucketVersioning): for tests and for
    /// buckets whose pushes must keep what they replace.
    public func enableVersioning(_ bucket: String) async throws {
        let body = Data(#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#.utf8)
        let digest = ContentDigest.of(body)
        _ = try await send(Call(operation: "PutBucketVersioning", method: .put, bucket: bucket, query: [("versioning", "")],
                                headers: [("Content-MD5", digest.md5Base64), ("Content-Type", "application/xml")], body: .data(body), payloadHash: digest.sha256))
    }

    /// The object's head, or nil if there is no such key.
    public func headObject(bucket: String, key: String) async throws -> S3ObjectInfo? {
        do {
            let response = try await send(Call(operation: "HeadObject", method: .head, bucket: bucket, key: key))
            return Self.info(response.headers)
        } catch let error as S3Error where error.status == 404 && error.code != .noSuchBucket {
            return nil
        }
    }

    /// Writes the object into `descriptor` from offset 0 and returns its head. Objects of
    /// at least `multipartThreshold` bytes (when `size` is given) come in parallel ranged
    /// GETs (`S3Configuration.downloadRange(for:)` bytes each) pinned to one version with
    /// `If-Match`. The caller owns the file: it is complete only when this returns.
    @discardableResult
    public func download(bucket: String, key: String, to descriptor: Int32, size: Int64? = nil, etag: String? = nil) async throws -> S3ObjectInfo {
        try await fetch(bucket: bucket, key: key, versionID: nil, to: descriptor, size: size, etag: etag, hash: nil, writeBehind: false, moved: nil).info
    }

    /// Downloads as `download` does and also returns the digest of the bytes written, read
    /// back from the page cache: a single GET's file once it is complete; parallel ranged
    /// parts in order by threads that follow the parts as they complete (MD5 on one thread,
    /// SHA-256 and SHA-1 on another), so hashing overlaps the transfer and only the
    /// last parts in flight are hashed after it. Hashing never runs on libcurl's transfer
    /// threads, which keep moving other transfers' bytes meanwhile.
    ///
    /// With `writeBehind`, the kernel is asked to start writing each finished part to disk
    /// at once (`sync_file_range`, Linux), so the caller's later fsync finds little left to
    /// do. It changes nothing about durability: only the fsync does.
    ///
    /// `algorithms` is asked with the object's head, before the first byte is hashed, which
    /// digests to compute beside SHA-256 (one left out is empty in the digest).
    ///
    /// `moved` is told the bytes of each part as it lands, or of the whole object once a
    /// single GET completed: over a successful download, exactly the object's size.
    ///
    /// `versionID` reads that version of the object (`GetObject ?versionId=`) instead of
    /// the current one.
    public func downloadWithDigest(bucket: String, key: String, versionID: String? = nil, to descriptor: Int32, size: Int64? = nil, etag: String? = nil,
                                   writeBehind: Bool = false, algorithms: @escaping @Sendable (S3ObjectInfo) -> ContentDigest.Algorithms = { _ in .all },
                                   moved: TransferProgress? = nil) async throws -> (info: S3ObjectInfo, digest: ContentDigest) {
        let result = try await fetch(bucket: bucket, key: key, versionID: versionID, to: descriptor, size: size, etag: etag, hash: algorithms,
                                     writeBehind: writeBehind, moved: moved)
        return (result.info, result.digest!)
    }

    /// `hash`: nil hashes nothing; otherwise SHA-256 and what it answers for the object's head.
    private func fetch(bucket: String, key: String, versionID: String?, to descriptor: Int32, size: Int64?, etag: String?, hash algorithms: (@Sendable (S3ObjectInfo) -> ContentDigest.Algorithms)?,
                       writeBehind: Bool, moved: TransferProgress?) async throws -> (info: S3ObjectInfo, digest: ContentDigest?) {
        let hash = algorithms != nil
        let query = versionID.map { [("versionId", $0)] } ?? []
        guard let size, size >= configuration.multipartThreshold, size > configuration.partSize else {
            let call = Call(operation: "GetObject", method: .get, bucket: bucket, key: key, query: query, headers: etag.map { [("If-Match", "\"\($0)\"")] } ?? [],
                            isDataTransfer: true, bufferSize: Self.bufferSize(for: size))
            let response = try await perform(call) { try await self.downloadAttempt($0, descriptor: descriptor, offset: 0) }
            let info = Self.info(response.headers)
            try Self.checkLength(descriptor: descriptor, expected: info.size, bucket: bucket, key: key)
            if writeBehind { FileSystem.startWriteback(descriptor, offset: 0, length: info.size) }
            var digest: ContentDigest?
            if let algorithms { digest = try await ContentDigest.of(file: descriptor, length: info.size, algorithms: algorithms(info)) }
            moved?(info.size)
            return (info, digest)
        }
        let range = configuration.downloadRange(for: size)
        let parts = Int((size + range - 1) / range)
        enum Finished: Sendable {
            case part(Int64, Int64, S3ObjectInfo?)
            case digest(ContentDigest?)
        }
        let (info, digest) = try await withThrowingTaskGroup(of: Finished.self) { group in
            var next = 0
            var completed = 0
            var first: S3ObjectInfo?
            var digest: ContentDigest?
            let (finishedRanges, finishedRange) = AsyncStream<FinishedPart>.makeStream()
            defer { finishedRange.finish() }
            if hash || writeBehind {
                group.addTask {
                    .digest(try await Self.follow(finishedRanges, descriptor: descriptor, size: size, hash: algorithms, writeBehind: writeBehind))
                }
            }
            func add(_ part: Int) {
                let start = Int64(part) * range
                let end = min(start + range, size) - 1
                var headers = [("Range", "bytes=\(start)-\(end)")]
                if let etag { headers.append(("If-Match", "\"\(etag)\"")) }
                let call = Call(operation: "GetObject", method: .get, bucket: bucket, key: key, query: query, headers: headers,
                                isDataTransfer: true, bufferSize: Self.bufferSize(for: end - start + 1))
                group.addTask {
                    let response = try await self.perform(call) { try await self.downloadAttempt($0, descriptor: descriptor, offset: start) }
                    guard response.status == 206 else {
                        throw S3Error(.invalidResponse, "ranged GET answered \(response.status), not 206", status: response.status, operation: "GetObject", bucket: bucket, key: key)
                    }
                    return .part(start, end + 1, part == 0 ? Self.info(response.headers) : nil)
                }
            }
            while next < min(parts, configuration.partConcurrency) { add(next); next += 1 }
            while let result = try await group.next() {
                switch result {
                case .part(let start, let end, let info):
                    if let info { first = info }
                    moved?(end - start)
                    finishedRange.yield(FinishedPart(start: start, end: end, head: info))
                    completed += 1
                    if completed == parts { finishedRange.finish() }
                case .digest(let value):
                    digest = value
                }
                if next < parts { add(next); next += 1 }
            }
            return (first!, digest)
        }
        try Self.checkLength(descriptor: descriptor, expected: size, bucket: bucket, key: key)
        return (S3ObjectInfo(size: size, etag: info.etag, lastModified: info.lastModified, metadata: info.metadata, versionID: info.versionID), digest)
    }

    struct FinishedPart: Sendable {
        var start: Int64
        var end: Int64
        /// The object's head, from the first part's response.
        var head: S3ObjectInfo?
    }

    /// Follows the finished parts of a parallel download: hashes the file in order as far as
    /// the parts are contiguous (on threads of its own, `FileHashing`), and starts their
    /// write-back. Hashing starts at the first part, so the head (which decides what to
    /// compute beside SHA-256) is known by then.
    private static func follow(_ parts: AsyncStream<FinishedPart>, descriptor: Int32, size: Int64,
                               hash algorithms: (@Sendable (S3ObjectInfo) -> ContentDigest.Algorithms)?, writeBehind: Bool) async throws -> ContentDigest? {
        var hashing: FileHashing?
        // Ends the hashing threads when the download fails; a no-op after `finish`.
        defer { hashing?.cancel() }
        var waiting: [Int64: Int64] = [:]
        var hashed: Int64 = 0
        for await part in parts {
            if writeBehind { FileSystem.startWriteback(descriptor, offset: part.start, length: part.end - part.start) }
            // Only the first part has the head, and nothing is hashed before it.
            if let algorithms, let head = part.head { hashing = FileHashing(descriptor: descriptor, algorithms: algorithms(head)) }
            waiting[part.start] = part.end
            while let end = waiting.removeValue(forKey: hashed) { hashed = end }
            hashing?.advance(to: hashed)
        }
        try Task.checkCancellation()
        guard hashed == size else {
            throw S3Error(.invalidResponse, "parts cover \(hashed) of \(size) bytes", operation: "GetObject")
        }
        return try await hashing?.finish(length: size).0
    }

    /// One GET attempt into the file; for an error answer, the error document the server
    /// wrote into the file is read back so `perform` can explain it.
    private func downloadAttempt(_ request: HTTPRequest, descriptor: Int32, offset: Int64) async throws -> HTTPResponse {
        var response = try await http.download(request, to: descriptor, offset: offset)
        if !(200..<300).contains(response.status) {
            var buffer = [UInt8](repeating: 0, count: 16 << 10)
            let n = pread(descriptor, &buffer, buffer.count, off_t(offset))
            response.body = Data(buffer.prefix(max(0, n)))
        }
        return response
    }

    private static func checkLength(descriptor: Int32, expected: Int64, bucket: String, key: String) throws {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else {
            throw S3Error(.init(rawValue: "WriteFailed"), String(cString: strerror(errno)), operation: "GetObject", bucket: bucket, key: key)
        }
        guard Int64(st.st_size) == expected else {
            throw S3Error(.invalidResponse, "received \(st.st_size) bytes, expected \(expected)", operation: "GetObject", bucket: bucket, key: key)
        }
    }

    /// Uploads `length` bytes of `descriptor` as `key` with user `metadata`, and returns
    /// what was stored with the digest of its bytes. Small files go in one PUT carrying
    /// Content-MD5, which the server checks, and a signed SHA-256, which AWS checks too: they
    /// are hashed before the request, so `digestMetadata` (metadata made from the digest) goes
    /// with them. Files of at least `multipartThreshold` bytes go as a multipart upload that
    /// starts at once: the file is read once, in order, on threads of its own, for its MD5,
    /// SHA-1, SHA-256 and each part's `partChecksum`, and each part is sent as soon as that
    /// read has passed its end. The part's checksum, which the server verifies, ties the
    /// bytes sent to the bytes hashed: a file that changes in between is refused part by part.
    /// Such an object has no `digestMetadata` (S3 takes metadata only when an upload starts),
    /// unless the caller passed `digest` and `parts`.
    /// Any failure aborts the upload, so no partial object ever appears.
    ///
    /// `digest` (and, for a multipart upload, `parts` from
    /// `ContentDigest.of(descriptor:length:partSize:checksum:)` with the configuration's
    /// `uploadPartSize(for: length)` and `partChecksum`), if the caller has them, save the
    /// hashing. `moved` is told the bytes of each part as the server accepts it, or of the
    /// whole file once a single PUT succeeded.
    @discardableResult
    public func upload(bucket: String, key: String, from descriptor: Int32, length: Int64, metadata: [String: String] = [:],
                       digestMetadata: @Sendable (ContentDigest) -> [String: String] = { _ in [:] },
                       digest: ContentDigest? = nil, parts: PartDigests? = nil,
                       contentType: String = "application/octet-stream", moved: TransferProgress? = nil) async throws -> UploadedObject {
        if isMultipart(length) {
            let partSize = configuration.uploadPartSize(for: length)
            guard length <= S3Configuration.largestObject, partSize <= S3Configuration.largestPart else {
                throw S3Error(.entityTooLarge, "the file is \(length) bytes; S3 objects are at most 5 TiB, in at most \(configuration.maxPartCount) parts of at most 5 GiB",
                              operation: "CreateMultipartUpload", bucket: bucket, key: key)
            }
            if let digest, let parts, parts.partSize == partSize, parts.length == length, parts.checksum == configuration.partChecksum {
                let (etag, version) = try await multipartUpload(bucket: bucket, key: key, from: descriptor, length: length, partSize: partSize,
                                                                metadata: metadata.merging(digestMetadata(digest)) { $1 },
                                                                partChecksum: { parts.values[$0] }, contentType: contentType, moved: moved)
                return UploadedObject(etag: etag, versionID: version, digest: digest)
            }
            let hashing = FileHashing(descriptor: descriptor, algorithms: .all,
                                      parts: PartHashing(partSize: partSize, length: length, checksum: configuration.partChecksum))
            hashing.start(length: length)
            // Ends the hashing threads when the upload fails; a no-op once it finished.
            defer { hashing.cancel() }
            let (etag, version) = try await multipartUpload(bucket: bucket, key: key, from: descriptor, length: length, partSize: partSize, metadata: metadata,
                                                            partChecksum: { try await hashing.partChecksum($0) }, contentType: contentType, moved: moved)
            let (digest, _) = try await hashing.finish(length: length)
            return UploadedObject(etag: etag, versionID: version, digest: digest)
        }
        let known = digest
        let digest = if let known { known } else { try await ContentDigest.of(file: descriptor, length: length) }
        var headers = [("Content-MD5", digest.md5Base64), ("Content-Type", contentType)]
        headers += metadata.merging(digestMetadata(digest)) { $1 }.sorted { $0.key < $1.key }.map { ("x-amz-meta-\($0.key)", $0.value) }
        let call = Call(operation: "PutObject", method: .put, bucket: bucket, key: key, headers: headers,
                        body: .file(descriptor: descriptor, offset: 0, length: length), payloadHash: digest.sha256, isDataTransfer: true,
                        bufferSize: Self.bufferSize(for: length))
        let response = try await send(call)
        moved?(length)
        return UploadedObject(etag: Self.unquote(response.headers["ETag"] ?? digest.md5), versionID: Self.versionID(response.headers), digest: digest)
    }

    /// Whether `upload` sends `length` bytes as a multipart upload.
    public func isMultipart(_ length: Int64) -> Bool {
        length >= configuration.multipartThreshold && length > configuration.partSize
    }

    /// Uploads bytes held in memory (small objects, tests, markers).
    @discardableResult
    public func putObject(bucket: String, key: String, data: Data, metadata: [String: String] = [:]) async throws -> String {
        let digest = ContentDigest.of(data)
        var headers = [("Content-MD5", digest.md5Base64)]
        headers += metadata.sorted { $0.key < $1.key }.map { ("x-amz-meta-\($0.key)", $0.value) }
        let response = try await send(Call(operation: "PutObject", method: .put, bucket: bucket, key: key, headers: headers, body: .data(data), payloadHash: digest.sha256))
        return Self.unquote(response.headers["ETag"] ?? digest.md5)
    }

    /// The whole object in memory (small objects only); `versionID` reads that version.
    public func getObject(bucket: String, key: String, versionID: String? = nil) async throws -> Data {
        try await send(Call(operation: "GetObject", method: .get, bucket: bucket, key: key, query: versionID.map { [("versionId", $0)] } ?? [],
                            isDataTransfer: true)).body
    }

    /// Deletes `keys` with batch DeleteObjects, 1,000 per request. Returns the keys S3
    /// refused, with its reason; keys that did not exist count as deleted, as in S3.
    public func deleteObjects(bucket: String, keys: [String]) async throws -> [(key: String, error: S3Error)] {
        try await deleteObjects(bucket: bucket, versions: keys.map { ($0, nil) })
    }

    /// Deletes the given versions of objects (the current one where `versionID` is nil), as
    /// `deleteObjects(bucket:keys:)` does.
    public func deleteObjects(bucket: String, versions objects: [(key: String, versionID: String?)]) async throws -> [(key: String, error: S3Error)] {
        var failed: [(key: String, error: S3Error)] = []
        for start in stride(from: 0, to: objects.count, by: 1000) {
            let batch = objects[start..<min(start + 1000, objects.count)]
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>"
            for object in batch {
                xml += "<Object><Key>\(XMLNode.escape(object.key))</Key>" + (object.versionID.map { "<VersionId>\(XMLNode.escape($0))</VersionId>" } ?? "") + "</Object>"
            }
            xml += "</Delete>"
            let body = Data(xml.utf8)
            let digest = ContentDigest.of(body)
            let response = try await send(Call(operation: "DeleteObjects", method: .post, bucket: bucket, query: [("delete", "")],
                                               headers: [("Content-MD5", digest.md5Base64), ("Content-Type", "application/xml")],
                                               body: .data(body), payloadHash: digest.sha256))
            let root = try XMLNode.parse(response.body)
            for error in root.all("Error") {
                let key = error["Key"]?.text ?? ""
                failed.append((key, S3Error(.init(rawValue: error["Code"]?.text ?? "Unknown"), error["Message"]?.text ?? "", status: response.status, operation: "DeleteObjects", bucket: bucket, key: key)))
            }
        }
        return failed
    }

    /// Deletes one object (no error if it does not exist).
    public func deleteObject(bucket: String, key: String) async throws {
        _ = try await send(Call(operation: "DeleteObject", method: .delete, bucket: bucket, key: key))
    }

    static func info(_ headers: HTTPHeaders) -> S3ObjectInfo {
        var metadata: [String: String] = [:]
        for field in headers where field.name.lowercased().hasPrefix("x-amz-meta-") {
            metadata[String(field.name.lowercased().dropFirst("x-amz-meta-".count))] = field.value
        }
        var size = Int64(headers["Content-Length"] ?? "") ?? 0
        // A ranged answer's Content-Length is the part's; the total is after the slash.
        if let range = headers["Content-Range"], let slash = range.lastIndex(of: "/"), let total = Int64(range[range.index(after: slash)...]) {
            size = total
        }
        return S3ObjectInfo(size: size, etag: unquote(headers["ETag"] ?? ""), lastModified: headers["Last-Modified"].flatMap(S3Time.parseHTTPDate), metadata: metadata,
                            versionID: versionID(headers))
    }

    /// The object version an answer names (`x-amz-version-id`); none on a bucket without
    /// versioning, where servers send nothing or `null`.
    static func versionID(_ headers: HTTPHeaders) -> String? {
        headers["x-amz-version-id"].flatMap { $0.isEmpty || $0 == "null" ? nil : $0 }
    }

    static func unquote(_ etag: String) -> String {
        var tag = etag
        if tag.hasPrefix("W/") { tag.removeFirst(2) }
        return tag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}

extension S3Client {
    /// Deletes a bucket with everything in it (objects and unfinished uploads): for tests
    /// and benchmarks that make short-lived buckets; sync never calls it.
    public func deleteBucketAndContents(_ bucket: String) async throws {
        let keys = try await listObjects(bucket: bucket).map(\.key)
        _ = try await deleteObjects(bucket: bucket, keys: keys)
        // A versioned bucket keeps every version and the delete markers just made.
        let versions = (try? await listObjectVersions(bucket: bucket)) ?? []
        _ = try await deleteObjects(bucket: bucket, versions: versions.map { ($0.key, Optional($0.versionID)) })
        try await abortStaleUploads(bucket: bucket)
        _ = try await send(Call(operation: "DeleteBucket", method: .delete, bucket: bucket))
    }

    /// Runs `body` with a new bucket named `prefix-<random>` and deletes the bucket and its
    /// contents afterwards, failed or not (SeaweedFS gives every bucket volumes of its own,
    /// and a test server has few): for tests and benchmarks.
    public func withTemporaryBucket(_ prefix: String, _ body: (String) async throws -> Void) async throws {
        let bucket = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
        try await createBucket(bucket)
        do {
            try await body(bucket)
        } catch {
            try? await deleteBucketAndContents(bucket)
            throw error
        }
        try await deleteBucketAndContents(bucket)
    }
}
