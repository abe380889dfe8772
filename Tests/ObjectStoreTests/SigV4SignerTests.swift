import Foundation
@testable import ObjectStore
import Testing

/// SigV4 against the examples AWS publishes (the signature test suite and the S3
/// "Signature Calculations" pages); no network.
@Suite struct SigV4SignerTests {
    /// The S3 documentation's example account and time, 2013-05-24T00:00:00Z.
    let s3Docs = SigV4Signer(credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), region: "us-east-1")
    let may2013 = Date(timeIntervalSince1970: 1_369_353_600)

    func signature(_ authorization: String) -> String {
        String(authorization[authorization.range(of: "Signature=")!.upperBound...])
    }

    @Test func testSuiteGetVanilla() {
        let signer = SigV4Signer(credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), region: "us-east-1", service: "service")
        let date = Date(timeIntervalSince1970: 1_440_938_160) // 20150830T123600Z
        let auth = signer.authorization(method: "GET", path: "/", query: [], headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
                                        payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(auth == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func s3GetObjectWithRange() {
        var headers = [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")]
        s3Docs.sign(method: "GET", path: "/test.txt", query: [], headers: &headers, payloadHash: SigV4Signer.emptyPayloadHash, date: may2013)
        let auth = headers.first { $0.0 == "Authorization" }!.1
        #expect(auth.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"))
        #expect(signature(auth) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.contains { $0.0 == "x-amz-date" && $0.1 == "20130524T000000Z" })
    }

    @Test func s3PutObjectWithEncodedKeyAndDateHeader() {
        #expect(SigV4Signer.encode("test$file.text", keepSlash: true) == "test%24file.text")
        var headers = [("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")]
        s3Docs.sign(method: "PUT", path: "/test%24file.text", query: [], headers: &headers,
                    payloadHash: "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", date: may2013)
        let auth = headers.first { $0.0 == "Authorization" }!.1
        #expect(signature(auth) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func s3GetBucketLifecycleWithEmptyQueryValue() {
        var headers = [("Host", "examplebucket.s3.amazonaws.com")]
        s3Docs.sign(method: "GET", path: "/", query: [("lifecycle", "")], headers: &headers, payloadHash: SigV4Signer.emptyPayloadHash, date: may2013)
        #expect(signature(headers.last!.1) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func s3ListObjectsSortsQuery() {
        var headers = [("Host", "examplebucket.s3.amazonaws.com")]
        s3Docs.sign(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: &headers, payloadHash: SigV4Signer.emptyPayloadHash, date: may2013)
        #expect(signature(headers.last!.1) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func s3PresignedURL() {
        let query = s3Docs.presignedQuery(method: "GET", path: "/test.txt", host: "examplebucket.s3.amazonaws.com", expires: 86400, date: may2013)
        #expect(query == "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test func encodingKeepsOnlyUnreservedBytes() {
        #expect(SigV4Signer.encode("a b/ü+~=", keepSlash: true) == "a%20b/%C3%BC%2B~%3D")
        #expect(SigV4Signer.encode("a/b", keepSlash: false) == "a%2Fb")
    }

    @Test func canonicalHeadersTrimAndMerge() {
        let (canonical, signed) = SigV4Signer.canonicalHeaders([("My-Header1", "  a   b   c  "), ("Host", "h"), ("my-header1", "d")])
        #expect(canonical == "host:h\nmy-header1:a b c,d\n")
        #expect(signed == "host;my-header1")
    }

    @Test func addressingStyles() throws {
        let creds = S3Credentials(accessKeyID: "k", secretAccessKey: "s")
        let path = try S3Client(configuration: S3Configuration(endpoint: "https://s3.example.com:9000/", credentials: creds))
        #expect(path.location(bucket: "b", key: "dir/a b.txt") == ("s3.example.com:9000", "/b/dir/a%20b.txt"))
        let hosted = try S3Client(configuration: S3Configuration(endpoint: "https://s3.example.com", credentials: creds, addressing: .virtualHosted))
        #expect(hosted.location(bucket: "b", key: "k") == ("b.s3.example.com", "/k"))
        #expect(try hosted.presignedURL(bucket: "b", key: "k", expires: .seconds(60)).hasPrefix("https://b.s3.example.com/k?X-Amz-Algorithm="))
        #expect(throws: S3Error.self) { try S3Client(configuration: S3Configuration(endpoint: "ftp://x", credentials: creds)) }
    }

    @Test func credentialsFromFilesAndEnvironment() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/.aws", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "[default]\naws_access_key_id = AK1\naws_secret_access_key = SK1\n[work]\naws_access_key_id=AK2\naws_secret_access_key=SK2\n".write(toFile: dir + "/.aws/credentials", atomically: true, encoding: .utf8)
        try "[profile work]\nregion = eu-west-3\n".write(toFile: dir + "/.aws/config", atomically: true, encoding: .utf8)
        #expect(S3Credentials.fromEnvironment(["HOME": dir])?.accessKeyID == "AK1")
        #expect(S3Credentials.fromEnvironment(["HOME": dir, "AWS_PROFILE": "work"])?.secretAccessKey == "SK2")
        #expect(S3Credentials.regionFromEnvironment(["HOME": dir, "AWS_PROFILE": "work"]) == "eu-west-3")
        #expect(S3Credentials.fromEnvironment(["HOME": dir, "AWS_ACCESS_KEY_ID": "E", "AWS_SECRET_ACCESS_KEY": "S"])?.accessKeyID == "E")
        #expect(S3Credentials.fromEnvironment(["HOME": dir + "/none"]) == nil)
        #expect(!"\(S3Credentials(accessKeyID: "A", secretAccessKey: "topsecret"))".contains("topsecret"))
    }

    @Test func timesParse() {
        #expect(S3Time.parseISO8601("2013-05-24T00:00:00.500Z")?.timeIntervalSince1970 == 1_369_353_600.5)
        #expect(S3Time.parseHTTPDate("Fri, 24 May 2013 00:00:00 GMT")?.timeIntervalSince1970 == 1_369_353_600)
    }

    @Test func errorDocumentsBecomeTypedErrors() {
        let body = Data("<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>gone</Message><RequestId>r1</RequestId></Error>".utf8)
        let error = S3Error.from(status: 404, body: body, operation: "ListObjectsV2", bucket: "b", key: nil)
        #expect(error.code == .noSuchBucket)
        #expect(error.requestID == "r1")
        #expect(error.description == "ListObjectsV2 s3://b failed: NoSuchBucket: gone (HTTP 404)")
        #expect(S3Error.from(status: 503, body: Data(), operation: "HeadObject", bucket: "b", key: "k").isRetryable)
        #expect(S3Error.from(status: 403, body: Data(), operation: "HeadObject", bucket: "b", key: "k").code.isAuthorization)
    }
}
