import ObjectStore
import Testing

/// How a multipart upload splits a file into parts, and a parallel download an object
/// into ranged GETs.
@Suite struct PartSizingTests {
    func configuration(_ adjust: (inout S3Configuration) -> Void = { _ in }) -> S3Configuration {
        var config = S3Configuration(endpoint: "http://127.0.0.1:1", credentials: S3Credentials(accessKeyID: "a", secretAccessKey: "b"))
        adjust(&config)
        return config
    }

    @Test func largeObjectsMoveInTheLargestRanges() {
        let config = configuration()
        #expect(config.downloadRange(for: 1 << 30) == 48 << 20)
        #expect(config.downloadRange(for: 100 << 30) == 48 << 20)
        #expect(config.downloadRange(for: 256 << 20) == 48 << 20)
    }

    /// Below 4 x 48 MiB an object splits in four, in whole MiB.
    @Test func mediumObjectsSplitInFour() {
        let config = configuration()
        #expect(config.downloadRange(for: 150 << 20) == 38 << 20)
        #expect(config.downloadRange(for: 100 << 20) == 25 << 20)
        #expect(config.downloadRange(for: (100 << 20) + 1) == 26 << 20)
    }

    @Test func noRangeIsSmallerThanAPart() {
        #expect(configuration().downloadRange(for: 64 << 20) == 16 << 20)
        #expect(configuration().downloadRange(for: 40 << 20) == 16 << 20)
        #expect(configuration { $0.maxDownloadRange = 1 << 20 }.downloadRange(for: 1 << 30) == 16 << 20)
    }

    @Test func uploadsUseThePartSizeUntilTheyWouldNeedMoreThan10000Parts() {
        let config = configuration()
        #expect(config.uploadPartSize(for: 1 << 30) == 16 << 20)
        #expect(config.uploadPartSize(for: 10_000 * (16 << 20)) == 16 << 20)
        #expect(config.uploadPartSize(for: 10_000 * (16 << 20) + 1) == 17 << 20)
        // 1 TiB: 104.9 MiB would do, in whole MiB 105 (10,000 parts of 105 MiB hold 1.03 TiB).
        #expect(config.uploadPartSize(for: 1 << 40) == 105 << 20)
        #expect(config.uploadPartSize(for: S3Configuration.largestObject) == 525 << 20)
        #expect(configuration { $0.maxPartCount = 1 }.uploadPartSize(for: 6 << 30) == 6 << 30)
    }
}
