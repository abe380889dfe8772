import Foundation
import HTTP

extension S3Client {
    /// Uploads in `partSize` parts (`uploadPartSize(for: length)`, the size the checksums
    /// were computed for), `partConcurrency` at a time, each with its checksum (`configuration.partChecksum`) as `partChecksum` gives it for the
    /// part's index: a part is sent once its checksum is known. Any failure, cancellation
    /// included, aborts the upload so the server drops the parts: an object appears whole
    /// or not at all.
    /// Returns the ETag and, on a versioned bucket, the version id.
    func multipartUpload(bucket: String, key: String, from descriptor: Int32, length: Int64, partSize: Int64, metadata: [String: String],
                         partChecksum: @escaping @Sendable (Int) async throws -> String, contentType: String,
                         moved: TransferProgress?) async throws -> (etag: String, versionID: String?) {
        let checksum = configuration.partChecksum
        var headers = [("Content-Type", contentType)] + checksum.creationHeaders
        headers += metadata.sorted { $0.key < $1.key }.map { ("x-amz-meta-\($0.key)", $0.value) }
        let created = try await send(Call(operation: "CreateMultipartUpload", method: .post, bucket: bucket, key: key, query: [("uploads", "")], headers: headers))
        guard let uploadID = try XMLNode.parse(created.body)["UploadId"]?.text, !uploadID.isEmpty else {
            throw S3Error(.invalidResponse, "CreateMultipartUpload answered without an UploadId", operation: "CreateMultipartUpload", bucket: bucket, key: key)
        }
        do {
            let uploaded = try await uploadParts(bucket: bucket, key: key, uploadID: uploadID, from: descriptor, length: length, partSize: partSize, partChecksum: partChecksum, moved: moved)
            var xml = "<CompleteMultipartUpload>"
            for (index, part) in uploaded.enumerated() {
                xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\"\(part.etag)\"</ETag>"
                if let element = checksum.completionElement { xml += "<\(element)>\(part.checksum)</\(element)>" }
                xml += "</Part>"
            }
            xml += "</CompleteMultipartUpload>"
            let body = Data(xml.utf8)
            let digest = ContentDigest.of(body)
            let response = try await send(Call(operation: "CompleteMultipartUpload", method: .post, bucket: bucket, key: key, query: [("uploadId", uploadID)],
                                               headers: [("Content-Type", "application/xml")], body: .data(body), payloadHash: digest.sha256))
            // S3 may answer 200 and still fail: the error is then the document.
            let root = try XMLNode.parse(response.body)
            if root.name == "Error" {
                throw S3Error.from(status: response.status, body: response.body, operation: "CompleteMultipartUpload", bucket: bucket, key: key)
            }
            return (Self.unquote(root["ETag"]?.text ?? response.headers["ETag"] ?? ""), Self.versionID(response.headers))
        } catch {
            await abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID)
            throw error
        }
    }

    private struct UploadedPart: Sendable {
        var etag: String
        /// The checksum the part was sent with (base64), repeated in the completion.
        var checksum: String
    }

    private func uploadParts(bucket: String, key: String, uploadID: String, from descriptor: Int32, length: Int64, partSize: Int64,
                             partChecksum: @escaping @Sendable (Int) async throws -> String, moved: TransferProgress?) async throws -> [UploadedPart] {
        let checksum = configuration.partChecksum
        let parts = Int((length + partSize - 1) / partSize)
        return try await withThrowingTaskGroup(of: (Int, UploadedPart).self) { group in
            var uploaded = [UploadedPart](repeating: UploadedPart(etag: "", checksum: ""), count: parts)
            var next = 0
            func add(_ part: Int) {
                let offset = Int64(part) * partSize
                let size = min(partSize, length - offset)
                group.addTask {
                    let value = try await partChecksum(part)
                    let call = Call(operation: "UploadPart", method: .put, bucket: bucket, key: key,
                                    query: [("partNumber", String(part + 1)), ("uploadId", uploadID)],
                                    headers: [(checksum.header, value)],
                                    body: .file(descriptor: descriptor, offset: offset, length: size),
                                    payloadHash: SigV4Signer.unsignedPayload, isDataTransfer: true, bufferSize: Self.bufferSize(for: size))
                    let response = try await self.send(call)
                    guard let etag = response.headers["ETag"] else {
                        throw S3Error(.invalidResponse, "UploadPart answered without an ETag", status: response.status, operation: "UploadPart", bucket: bucket, key: key)
                    }
                    return (part, UploadedPart(etag: Self.unquote(etag), checksum: value))
                }
            }
            while next < min(parts, configuration.partConcurrency) { add(next); next += 1 }
            while let (part, done) = try await group.next() {
                uploaded[part] = done
                moved?(min(partSize, length - Int64(part) * partSize))
                if next < parts { add(next); next += 1 }
            }
            return uploaded
        }
    }

    /// Best-effort abort. It runs in a fresh task because the caller's task may be the one
    /// being cancelled, and a cancelled task's requests are dropped before they are sent;
    /// the abort is awaited, so it still finishes before the caller moves on.
    func abortMultipartUpload(bucket: String, key: String, uploadID: String) async {
        let call = Call(operation: "AbortMultipartUpload", method: .delete, bucket: bucket, key: key, query: [("uploadId", uploadID)])
        let cleanup = Task { _ = try? await self.send(call) }
        await cleanup.value
    }

    /// Multipart uploads under `prefix` that were started and never completed or aborted
    /// (a run killed mid-upload leaves these; they are invisible but hold storage).
    public func listMultipartUploads(bucket: String, prefix: String = "") async throws -> [(key: String, uploadID: String)] {
        var query = [("uploads", "")]
        if !prefix.isEmpty { query.append(("prefix", prefix)) }
        let response = try await send(Call(operation: "ListMultipartUploads", method: .get, bucket: bucket, query: query))
        return try XMLNode.parse(response.body).all("Upload").compactMap { upload in
            guard let key = upload["Key"]?.text, let id = upload["UploadId"]?.text else { return nil }
            return (key, id)
        }
    }

    /// Aborts every unfinished multipart upload under `prefix`; returns how many.
    @discardableResult
    public func abortStaleUploads(bucket: String, prefix: String = "") async throws -> Int {
        let stale = try await listMultipartUploads(bucket: bucket, prefix: prefix)
        for upload in stale { await abortMultipartUpload(bucket: bucket, key: upload.key, uploadID: upload.uploadID) }
        return stale.count
    }
}
