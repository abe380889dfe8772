import Foundation
import KubeModel
import SyncContract
import Testing
@testable import StowageAPI

/// `spec.source.http` (issue 17, item 5): what validation refuses, with the field it names,
/// the file each URL becomes, and the sync pod's argument that carries it.
@Suite struct HTTPSourceTests {
    static let sha = String(repeating: "ab", count: 32)

    func dv(access: AccessMode? = .readOnly, _ urls: [HTTPFile]) -> DataVolume {
        DataVolume(name: "dataset", spec: DataVolumeSpec(size: "1Gi", source: DataSource(http: HTTPSource(urls: urls)), access: access))
    }

    @Test func aReadOnlyHTTPSourceIsValid() {
        let valid = dv([HTTPFile(url: "https://data.example.org/mnist/train.csv?download=1", checksum: "sha256:\(Self.sha)"),
                        HTTPFile(url: "http://mirror.example.org/labels.csv", checksum: "MD5:\(String(repeating: "0", count: 32))"),
                        HTTPFile(url: "https://data.example.org/mnist/", path: "extra/index.html"),
                        HTTPFile(url: "https://data.example.org/x", checksum: "sha1:\(String(repeating: "f", count: 40))")])
        #expect(valid.validate().isEmpty, "\(valid.validate())")
    }

    @Test func onlyROIsAllowedAndRWTheDefaultIsNamed() {
        let file = HTTPFile(url: "https://data.example.org/a.csv")
        for access in [AccessMode.readWrite, .readWriteDelete, nil] {
            let errors = dv(access: access, [file]).validate()
            #expect(errors.fields == ["spec.access"], "\(String(describing: access))")
            #expect(errors.first?.message.contains("set access: RO") == true)
        }
        let errors = dv(access: .readWrite, [file]).validate()
        #expect(errors.first?.description == "spec.access: RW pushes back, and an http source cannot be written to: set access: RO (the default is RW)")
        let shared = SharedVolume(name: "team", spec: SharedVolumeSpec(size: "1Gi", accessLevel: "public",
                                                                         source: DataSource(http: HTTPSource(urls: [file]))))
        #expect(shared.validate().fields == ["spec.access"])
    }

    @Test func httpAndS3TogetherAreRefused() {
        var spec = DataVolumeSpec(size: "1Gi", source: s3Source(), access: .readOnly)
        spec.source?.http = HTTPSource(urls: [HTTPFile(url: "https://data.example.org/a.csv")])
        let errors = DataVolume(name: "both", spec: spec).validate()
        #expect(errors == [FieldError("spec.source", "must set exactly one provider, not s3 and http")])
    }

    @Test(arguments: [
        ("data.example.org/a.csv", "spec.source.http.urls[0].url", "is not an http:// or https:// URL with a host"),
        ("ftp://data.example.org/a.csv", "spec.source.http.urls[0].url", "is not an http:// or https:// URL with a host"),
        ("https:///a.csv", "spec.source.http.urls[0].url", "is not an http:// or https:// URL with a host"),
        ("https://user:secret@data.example.org/a.csv", "spec.source.http.urls[0].url", "must not carry credentials"),
        ("https://data.example.org/a.csv#part", "spec.source.http.urls[0].url", "must not have a #fragment"),
        ("https://data.example.org/", "spec.source.http.urls[0].path", "names no file"),
        ("https://data.example.org/..", "spec.source.http.urls[0].path", "names no file"),
    ])
    func badURLsAreRefused(url: String, field: String, message: String) {
        let errors = dv([HTTPFile(url: url)]).validate()
        #expect(errors.fields == [field], "\(url): \(errors)")
        #expect(errors.first?.message.contains(message) == true, "\(url): \(errors)")
    }

    @Test(arguments: ["sha256", "sha256:", "sha256:\(String(repeating: "a", count: 63))", "sha512:\(String(repeating: "a", count: 128))",
                      "md5:\(String(repeating: "g", count: 32))", "\(String(repeating: "a", count: 64))", "sha1:\(sha)"])
    func badChecksumsAreRefused(checksum: String) {
        let errors = dv([HTTPFile(url: "https://data.example.org/a.csv", checksum: checksum)]).validate()
        #expect(errors == [FieldError("spec.source.http.urls[0].checksum",
                                      "\"\(checksum)\" is not a checksum (expected sha256:<64 hex digits>, sha1:<40 hex digits> or md5:<32 hex digits>)")])
    }

    @Test func pathsMustBeSafeAndDistinct() {
        let a = HTTPFile(url: "https://one.example.org/v1/data.csv")
        let b = HTTPFile(url: "https://two.example.org/v2/data.csv")
        #expect(dv([a, b]).validate() == [FieldError("spec.source.http.urls[1].path",
            "\"data.csv\" collides with the file of spec.source.http.urls[0] (data.csv); set path on one of them")])
        #expect(dv([a, HTTPFile(url: b.url, path: "v2/data.csv")]).validate().isEmpty)
        // A file where another one needs a directory, either way round.
        #expect(dv([HTTPFile(url: a.url, path: "d"), HTTPFile(url: b.url, path: "d/x.csv")]).validate().fields == ["spec.source.http.urls[1].path"])
        #expect(dv([HTTPFile(url: a.url, path: "d/x.csv"), HTTPFile(url: b.url, path: "d")]).validate().fields == ["spec.source.http.urls[1].path"])
        for bad in ["/etc/passwd", "a/../b", "a//b", ".stowage/manifest.json", "./a"] {
            #expect(dv([HTTPFile(url: a.url, path: bad)]).validate().fields == ["spec.source.http.urls[0].path"], "\(bad)")
        }
        #expect(DataVolume(name: "none", spec: DataVolumeSpec(size: "1Gi", source: DataSource(http: HTTPSource(urls: [])), access: .readOnly))
            .validate().fields == ["spec.source.http.urls"])
    }

    @Test func theFileIsTheURLsLastSegmentUnlessAPathIsGiven() {
        #expect(HTTPFile(url: "https://h.example.org/a/b/train%20set.csv?x=1").effectivePath == "train set.csv")
        // An encoded slash would make a directory the URL does not name.
        #expect(HTTPFile(url: "https://h.example.org/a/b%2Fc.csv").effectivePath == nil)
        #expect(HTTPFile(url: "https://h.example.org/").effectivePath == nil)
        #expect(HTTPFile(url: "https://h.example.org").effectivePath == nil)
        #expect(HTTPFile(url: "https://h.example.org/", path: "index.html").effectivePath == "index.html")
    }

    @Test func theSyncPodsArgumentCarriesChecksumAndPath() throws {
        let plain = HTTPFile(url: "https://h.example.org/a.csv?download=1")
        #expect(plain.argument == "https://h.example.org/a.csv?download=1")
        let full = HTTPFile(url: "https://h.example.org/a.csv", checksum: "sha256:\(Self.sha)", path: "dir/a & b#1.csv")
        #expect(full.argument == "https://h.example.org/a.csv#checksum=sha256:\(Self.sha)&path=dir/a%20%26%20b%231.csv")
        for file in [plain, full, HTTPFile(url: "https://h.example.org/x", path: "100%.csv")] {
            #expect(try HTTPFile(argument: file.argument) == file)
        }
        #expect(throws: HTTPFileArgumentError.self) { try HTTPFile(argument: "https://h.example.org/a#sha=1") }
    }

    @Test func checksumsParse() {
        #expect(HTTPChecksum("SHA256:\(Self.sha.uppercased())") == HTTPChecksum("sha256:\(Self.sha)"))
        #expect(HTTPChecksum("sha256:\(Self.sha)")?.description == "sha256:\(Self.sha)")
        #expect(HTTPChecksum("md5:\(String(repeating: "a", count: 32))")?.algorithm == .md5)
        #expect(HTTPChecksum("crc32:00000000") == nil)
    }

    /// The pull identity covers the source: a changed URL, checksum or path re-pulls.
    @Test func aChangedURLListChangesWhatIsPulled() {
        let one = DataSource(http: HTTPSource(urls: [HTTPFile(url: "https://h.example.org/a.csv")]))
        var two = one
        two.http?.urls[0].checksum = "sha256:\(Self.sha)"
        #expect(PullIdentity.of(source: one, access: .readOnly) != PullIdentity.of(source: two, access: .readOnly))
    }
}
