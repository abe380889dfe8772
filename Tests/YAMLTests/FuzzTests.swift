import Testing
@testable import YAML

/// Malformed input must give an error with a position, never a crash or a hang.
@Suite struct YAMLFuzzTests {
    static let seed = """
    apiVersion: stowage.io/v1alpha1
    kind: DataVolume
    metadata:
      name: "results"
      labels: {team: a, tier: 'gold'}
    spec:
      size: 10Gi
      access: RWD
      source:
        s3: &s3 {endpoint: "http://s3:8333", bucket: data, prefix: run/1}
      mirror: *s3
      members:
        - {user: alice, access: ReadWrite}
        - user: bob
          access: ReadOnly
      note: |
        multi
        line
    ---
    - [a, b, {c: d}]
    - ? complex key
      : value
    """

    /// A small deterministic generator, so a failure reproduces.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func check(_ bytes: [UInt8]) -> Bool {
        do {
            _ = try YAMLParser().parseStream(bytes)
            return true
        } catch {
            #expect(error.mark == nil || error.mark!.line >= 1, "error without a usable position: \(error)")
            return false
        }
    }

    @Test func everyTruncationParsesOrFailsCleanly() {
        let bytes = Array(Self.seed.utf8)
        var failures = 0
        for end in 0...bytes.count where !check(Array(bytes[..<end])) { failures += 1 }
        // Cutting inside a quoted scalar or an alias must fail; most cuts are still valid YAML.
        #expect(failures > 0)
    }

    @Test func thousandsOfMutatedDocuments() {
        var rng = SplitMix(state: 42)
        let seed = Array(Self.seed.utf8)
        let alphabet = Array("[]{}:-?&*!|>'\"#%@`,\n\t \\x0".utf8) + [0xC3, 0xFF, 0x00]
        var rejected = 0
        for _ in 0..<5_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = alphabet.randomElement(using: &rng)!
                case 1: bytes.insert(alphabet.randomElement(using: &rng)!, at: at)
                default: bytes.remove(at: at)
                }
            }
            if !check(bytes) { rejected += 1 }
        }
        #expect(rejected > 500, "mutations should often break the document; only \(rejected) did")
    }

    @Test func thousandsOfRandomByteStrings() {
        var rng = SplitMix(state: 7)
        for _ in 0..<3_000 {
            let count = Int.random(in: 0..<200, using: &rng)
            _ = check((0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
    }
}
