import CCurl
import Foundation
import Synchronization

/// One request in flight: the libcurl easy handle, its callbacks, and where results go.
///
/// Everything but `cancelRequested` is touched only on the owning `CurlLoop`'s thread once
/// the transfer is submitted.
final class Transfer: @unchecked Sendable {
    enum Delivery {
        /// Collect the body in memory.
        case collect(CheckedContinuation<HTTPResponse, any Error>)
        /// Write the body to a file descriptor at `offset`, on the transfer thread.
        case file(descriptor: Int32, offset: Int64, CheckedContinuation<HTTPResponse, any Error>)
        /// Write the body to a file descriptor where `place` says once the head is in.
        case placedFile(descriptor: Int32, place: @Sendable (HTTPResponseHead) -> HTTPBodyPlacement,
                        received: (@Sendable (Int) -> Void)?, CheckedContinuation<HTTPResponse, any Error>)
        /// Hand the head to one continuation and the body to a stream.
        case stream(head: CheckedContinuation<HTTPResponseHead, any Error>?, body: AsyncThrowingStream<Data, any Error>.Continuation, flow: FlowControl)
    }

    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CCURL_ERROR_SIZE))
    private let requestBody: HTTPRequest.Body?
    private var bodyOffset: Int64 = 0
    var delivery: Delivery?

    private var status = 0
    private var version = ""
    private var headers = HTTPHeaders()
    private var headComplete = false
    private var collected = Data()
    private var fileOffset: Int64 = 0
    /// A `placedFile` body's placement, decided when its head is complete.
    private var placement: HTTPBodyPlacement?
    /// Redirects libcurl follows: their heads are not the response.
    private let followsRedirects: Bool
    private var failure: HTTPError?

    private let cancelFlag = Atomic<Bool>(false)
    var cancelRequested: Bool { cancelFlag.load(ordering: .acquiring) }
    func requestCancel() { cancelFlag.store(true, ordering: .releasing) }

    init(_ request: HTTPRequest, configuration: HTTPClientConfiguration, streaming: Bool) throws(HTTPError) {
        guard let easy = curl_easy_init() else { throw HTTPError(.other, "curl_easy_init failed") }
        self.easy = easy
        self.requestBody = request.body
        self.followsRedirects = request.maxRedirects > 0
        errorBuffer.initialize(to: 0)
        do {
            try configure(request, configuration, streaming: streaming)
        } catch {
            release()
            throw error
        }
    }

    deinit { errorBuffer.deallocate() }

    /// Frees the libcurl resources; called on the loop thread after removal from the multi.
    func release() {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        headerList = nil
    }

    private func set(_ option: CURLoption, _ value: Int) throws(HTTPError) {
        try check(ccurl_setopt_long(easy, option, value), option)
    }

    private func set(_ option: CURLoption, _ value: String) throws(HTTPError) {
        try check(ccurl_setopt_string(easy, option, value), option)
    }

    private func set(_ option: CURLoption, blob: Data) throws(HTTPError) {
        var copy = blob
        let rc = copy.withUnsafeMutableBytes { ccurl_setopt_blob(easy, option, $0.baseAddress, $0.count) }
        try check(rc, option)
    }

    private func check(_ rc: CURLcode, _ option: CURLoption) throws(HTTPError) {
        guard rc == CURLE_OK else {
            throw HTTPError(.invalidRequest, "libcurl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(rc)))", curlCode: Int(rc.rawValue))
        }
    }

    private func configure(_ request: HTTPRequest, _ config: HTTPClientConfiguration, streaming: Bool) throws(HTTPError) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        try set(CURLOPT_URL, request.url)
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_TCP_KEEPALIVE, 1)
        try set(CURLOPT_PIPEWAIT, 1)
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        if request.maxRedirects > 0 {
            try set(CURLOPT_FOLLOWLOCATION, 1)
            try set(CURLOPT_MAXREDIRS, request.maxRedirects)
            try set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        }
        try check(ccurl_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer), CURLOPT_ERRORBUFFER)
        try check(ccurl_setopt_ptr(easy, CURLOPT_PRIVATE, me), CURLOPT_PRIVATE)
        try check(ccurl_setopt_callback(easy, CURLOPT_HEADERFUNCTION, transferHeaderCallback), CURLOPT_HEADERFUNCTION)
        try check(ccurl_setopt_ptr(easy, CURLOPT_HEADERDATA, me), CURLOPT_HEADERDATA)
        try check(ccurl_setopt_callback(easy, CURLOPT_WRITEFUNCTION, transferWriteCallback), CURLOPT_WRITEFUNCTION)
        try check(ccurl_setopt_ptr(easy, CURLOPT_WRITEDATA, me), CURLOPT_WRITEDATA)
        try set(CURLOPT_CONNECTTIMEOUT_MS, config.connectTimeout.milliseconds)
        if let total = request.timeout ?? (streaming ? nil : config.requestTimeout) {
            try set(CURLOPT_TIMEOUT_MS, max(1, total.milliseconds))
        }
        if let lowSpeed = config.lowSpeedTime {
            try set(CURLOPT_LOW_SPEED_TIME, max(1, lowSpeed.milliseconds / 1000))
            try set(CURLOPT_LOW_SPEED_LIMIT, config.lowSpeedLimit)
        }

        switch request.method {
        case .get:
            try set(CURLOPT_HTTPGET, 1)
        case .head:
            try set(CURLOPT_NOBODY, 1)
        default:
            // Every other method goes out as an upload so the body streams through the read
            // callback with an exact Content-Length (0 when there is none).
            try set(CURLOPT_UPLOAD, 1)
            try set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
            try check(ccurl_setopt_off(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body?.length ?? 0)), CURLOPT_INFILESIZE_LARGE)
            try check(ccurl_setopt_callback(easy, CURLOPT_READFUNCTION, transferReadCallback), CURLOPT_READFUNCTION)
            try check(ccurl_setopt_ptr(easy, CURLOPT_READDATA, me), CURLOPT_READDATA)
        }
        if let size = request.bufferSize {
            // libcurl caps these itself (10 MiB receive, 2 MiB upload); it refuses nothing.
            try set(CURLOPT_BUFFERSIZE, min(max(size, 1024), 10 << 20))
            if request.body != nil { try set(CURLOPT_UPLOAD_BUFFERSIZE, min(max(size, 16 << 10), 2 << 20)) }
        }
        if request.body != nil, request.method == .get || request.method == .head {
            throw HTTPError(.invalidRequest, "\(request.method.rawValue) requests cannot carry a body")
        }

        var fields = request.headers.fields.map { "\($0.name): \($0.value)" }
        // No "Expect: 100-continue" round trip: the servers we talk to answer errors anyway.
        fields.append("Expect:")
        for field in fields {
            // A byte scan: Foundation's `contains` on String costs a CFString search per call.
            guard !field.utf8.contains(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) else {
                throw HTTPError(.invalidRequest, "header contains a line break")
            }
            headerList = curl_slist_append(headerList, field)
        }
        try check(ccurl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList), CURLOPT_HTTPHEADER)

        let tls = config.tls
        if tls.insecureSkipVerify {
            try set(CURLOPT_SSL_VERIFYPEER, 0)
            try set(CURLOPT_SSL_VERIFYHOST, 0)
        }
        switch tls.trustRoots {
        case .file(let path)?: try set(CURLOPT_CAINFO, path)
        case .pem(let data)?: try set(CURLOPT_CAINFO_BLOB, blob: data)
        case nil: break
        }
        switch tls.clientCertificate {
        case .file(let path)?: try set(CURLOPT_SSLCERT, path)
        case .pem(let data)?: try set(CURLOPT_SSLCERT_BLOB, blob: data)
        case nil: break
        }
        if tls.clientCertificate != nil { try set(CURLOPT_SSLCERTTYPE, "PEM") }
        switch tls.clientKey {
        case .file(let path)?: try set(CURLOPT_SSLKEY, path)
        case .pem(let data)?: try set(CURLOPT_SSLKEY_BLOB, blob: data)
        case nil: break
        }
        if tls.clientKey != nil { try set(CURLOPT_SSLKEYTYPE, "PEM") }
    }

    // MARK: callbacks (transfer thread)

    func header(_ bytes: UnsafeRawBufferPointer) -> Int {
        // Trim CR LF as bytes: as a String, "\r\n" is one Character and escapes hasSuffix.
        var end = bytes.count
        while end > 0, bytes[end - 1] == UInt8(ascii: "\n") || bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new status line: an interim (1xx) response came first, or this is the first.
            let parts = line.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            version = parts.first.map { String($0.dropFirst(5)) } ?? ""
            headers = HTTPHeaders()
        } else if line.isEmpty {
            // The head of a redirect libcurl is about to follow is not the response's.
            let followed = followsRedirects && [301, 302, 303, 307, 308].contains(status) && headers["Location"] != nil
            if status >= 200 && !headComplete && !followed {
                headComplete = true
                deliverHead()
            }
        } else if let colon = line.utf8.firstIndex(of: UInt8(ascii: ":")) {
            let name = String(line[..<colon])
            // Trim spaces and tabs as bytes (Foundation's trimmingCharacters is far slower).
            var value = line.utf8[line.utf8.index(after: colon)...]
            while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
            while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
            headers.add(name, String(Substring(value)))
        }
        return bytes.count
    }

    private var head: HTTPResponseHead { HTTPResponseHead(status: status, headers: headers, version: version) }

    private func deliverHead() {
        if case .placedFile(_, let place, _, _) = delivery {
            placement = place(head)
        }
        if case .stream(let headContinuation?, let body, let flow) = delivery {
            delivery = .stream(head: nil, body: body, flow: flow)
            headContinuation.resume(returning: head)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        switch delivery {
        case .collect:
            collected.append(contentsOf: bytes)
        case .file(let fd, let base, _):
            guard writeAll(bytes, to: fd, at: base) else { return 0 }
        case .placedFile(let fd, _, let received, _):
            guard case .at(let base)? = placement else { break }
            guard writeAll(bytes, to: fd, at: base) else { return 0 }
            received?(bytes.count)
        case .stream(_, let body, let flow):
            guard flow.admit(bytes.count) else { return CCURL_WRITEFUNC_PAUSE }
            body.yield(Data(bytes))
        case nil:
            break
        }
        return bytes.count
    }

    /// Writes `bytes` at `base` plus the body's offset so far, advancing it; false (with
    /// `failure` set) when the file refuses them.
    private func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, at base: Int64) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(base + fileOffset))
            if n < 0 {
                if errno == EINTR { continue }
                failure = HTTPError(.bodySinkFailed, "writing the response body failed: \(String(cString: strerror(errno)))")
                return false
            }
            done += n
            fileOffset += Int64(n)
        }
        return true
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let body = requestBody else { return 0 }
        let remaining = body.length - bodyOffset
        let count = Int(min(Int64(buffer.count), remaining))
        guard count > 0 else { return 0 }
        switch body {
        case .data(let data):
            let start = data.startIndex + Int(bodyOffset)
            data.copyBytes(to: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), from: start..<start + count)
            bodyOffset += Int64(count)
            return count
        case .file(let fd, let offset, _):
            while true {
                let n = pread(fd, buffer.baseAddress!, count, off_t(offset + bodyOffset))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failure = HTTPError(.bodySourceFailed, n == 0 ? "request body file ended early" : "reading the request body failed: \(String(cString: strerror(errno)))")
                    return CCURL_READFUNC_ABORT
                }
                bodyOffset += Int64(n)
                return n
            }
        }
    }

    // MARK: completion (transfer thread)

    /// Finishes the transfer with libcurl's result; resumes whoever waits, exactly once.
    func complete(_ code: CURLcode) {
        var connects = 0
        ccurl_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
        let error: (any Error)? = if cancelRequested {
            CancellationError()
        } else if let failure {
            failure
        } else if code != CURLE_OK {
            Self.error(for: code, detail: String(cString: errorBuffer))
        } else {
            nil
        }
        switch delivery {
        case .collect(let c):
            if let error { c.resume(throwing: error) } else {
                c.resume(returning: HTTPResponse(head: head, body: collected, newConnections: connects))
            }
        case .file(_, _, let c), .placedFile(_, _, _, let c):
            if let error { c.resume(throwing: error) } else {
                c.resume(returning: HTTPResponse(head: head, body: Data(), newConnections: connects))
            }
        case .stream(let headContinuation, let body, _):
            if let error {
                headContinuation?.resume(throwing: error)
                body.finish(throwing: error)
            } else {
                headContinuation?.resume(returning: head)
                body.finish()
            }
        case nil:
            break
        }
        delivery = nil
    }

    static func error(for code: CURLcode, detail: String) -> HTTPError {
        let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let kind: HTTPError.Code = switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: .resolveFailed
        case CURLE_COULDNT_CONNECT: .connectFailed
        case CURLE_OPERATION_TIMEDOUT: .timedOut
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
             CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_NOTFOUND:
            .tls
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            .connectionLost
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: .invalidRequest
        default: .other
        }
        return HTTPError(kind, text, curlCode: Int(code.rawValue))
    }
}

extension Duration {
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

private func transfer(_ userdata: UnsafeMutableRawPointer?) -> Transfer {
    Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
}

private let transferHeaderCallback: ccurl_data_callback = { buffer, size, count, userdata in
    transfer(userdata).header(UnsafeRawBufferPointer(start: buffer, count: size * count))
}

private let transferWriteCallback: ccurl_data_callback = { buffer, size, count, userdata in
    transfer(userdata).write(UnsafeRawBufferPointer(start: buffer, count: size * count))
}

private let transferReadCallback: ccurl_data_callback = { buffer, size, count, userdata in
    transfer(userdata).read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
}
