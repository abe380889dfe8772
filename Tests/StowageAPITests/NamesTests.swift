import SyncContract
import Testing
@testable import StowageAPI

@Suite struct NamesTests {
    @Test func escapes() {
        #expect(UserName.escape("alice") == "alice")
        #expect(UserName.escape("Alice") == "-41lice")
        #expect(UserName.escape("a.b") == "a-2eb")
        #expect(UserName.escape("a-b") == "a-2db")
        #expect(UserName.escape("a_b") == "a-5fb")
        #expect(UserName.escape("a.") == "a-2e")
        #expect(UserName.escape("a-2e") == "a-2d2e")
        #expect(UserName.escape("zoë") == "zo-c3-ab")
        #expect(UserName.escape("用户") == "-e7-94-a8-e6-88-b7")
        #expect(UserName.escape("alice@example.org") == "alice-40example-2eorg")
    }

    @Test func distinctNamesStayDistinct() {
        let names = ["Alice", "alice", "a.b", "a-b", "a_b", "a-2e", "a.", "a-2d", "A", "-41", "zoë", "zoe"]
        let escaped = names.map(UserName.escape)
        #expect(Set(escaped).count == names.count)
        for name in names { #expect(UserName.unescape(UserName.escape(name)) == name) }
    }

    @Test func unescapeRejectsNonEscapes() {
        for bad in ["A", "a-", "a-2", "a-zz", "a-41x".uppercased(), "a-61", "a--41"] {
            #expect(UserName.unescape(bad) == nil, "\(bad)")
        }
    }

    @Test func randomNamesNeverCollide() {
        // A small alphabet makes near-misses (case, separators, escape look-alikes) common.
        let alphabet = Array("aA-._2e")
        var generator = SystemRandomNumberGenerator()
        var seen: [String: String] = [:]
        var homes: [String: String] = [:]
        for _ in 0..<20_000 {
            let length = Int.random(in: 1...12, using: &generator)
            let name = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            let escaped = UserName.escape(name)
            if let other = seen[escaped] { #expect(other == name, "\(other) and \(name) both escape to \(escaped)") }
            seen[escaped] = name
            if let home = UserName.homeName(for: name) {
                if let other = homes[home] { #expect(other == name) }
                homes[home] = name
            }
            #expect(UserName.unescape(escaped) == name)
        }
    }

    @Test func homeNames() throws {
        #expect(UserName.homeName(for: "") == nil)
        #expect(UserName.homeName(for: "alice") == "home-alice")
        #expect(UserName.homeName(for: "Alice") == "home--41lice")
        let long = String(repeating: "a", count: 58)
        #expect(UserName.homeName(for: long) == "home-" + long)   // exactly 63
        let longer = String(repeating: "a", count: 59)
        let name = try #require(UserName.homeName(for: longer))
        #expect(name.count == 63)
        #expect(name.hasPrefix("home-" + String(repeating: "a", count: 46) + "--"))
        #expect(name.hasSuffix(String(sha256Hex(longer).prefix(10))))
        // Long names that share a prefix differ by their hash.
        #expect(UserName.homeName(for: longer + "b") != UserName.homeName(for: longer + "c"))
        // The cut never splits an escape.
        let upper = try #require(UserName.homeName(for: String(repeating: "A", count: 30)))
        #expect(upper.count <= 63)
        #expect(upper.hasPrefix("home-" + String(repeating: "-41", count: 15) + "--"))
        for n in ["x", String(repeating: "Ab.", count: 40), "用户名"] {
            let home = try #require(UserName.homeName(for: n))
            #expect(Validator.isDNSLabel(Substring(home)), "\(home)")
        }
    }

    @Test func childNames() {
        let dv = DataVolume(name: "alice-home", spec: DataVolumeSpec(size: "1Gi"))
        let shv = SharedVolume(name: "modules", spec: SharedVolumeSpec(size: "1Gi", accessLevel: "private"))
        #expect(ChildNames.claimName(for: dv) == "dv-alice-home")
        #expect(ChildNames.claimName(for: shv) == "shv-modules")
        let job = ChildNames.syncJobName(kind: .dataVolume, name: "alice-home", direction: .pull, token: "uid-1/3")
        #expect(job == "stowage-dv-alice-home-pull-" + String(sha256Hex("uid-1/3").prefix(8)))
        #expect(job == ChildNames.syncJobName(kind: .dataVolume, name: "alice-home", direction: .pull, token: "uid-1/3"))
        #expect(job != ChildNames.syncJobName(kind: .dataVolume, name: "alice-home", direction: .pull, token: "uid-1/4"))
        #expect(ChildNames.podVolumeName(kind: .dataVolume, name: "alice-home") == "dv-alice-home")
    }

    @Test func longChildNamesFit() {
        let name = String(repeating: "x", count: 200) + ".data"
        let job = ChildNames.syncJobName(kind: .sharedVolume, name: name, direction: .push, token: "t")
        let volume = ChildNames.podVolumeName(kind: .dataVolume, name: "my.data")
        for n in [job, volume, ChildNames.labelValue(name)] { #expect(n.count <= 63, "\(n)") }
        #expect(job.hasSuffix("-push-" + String(sha256Hex("t").prefix(8))))
        #expect(Validator.isDNSLabel(Substring(volume)))
        #expect(Validator.isDNSLabel(Substring(job)))
        #expect(ChildNames.labelValue("short") == "short")
    }

    /// A claim name is the volume name behind a prefix, never shortened: the validator reads
    /// back exactly the volume the mutator and the reconciler meant, at any length the
    /// validation accepts (issue 15: long home names and long claim names disagreed).
    @Test func claimNamesMapBothWays() throws {
        let names = ["a", "home-alice", String(repeating: "x", count: 60), String(repeating: "x", count: 61),
                     "home-" + String(repeating: "a", count: 58), String(repeating: "x", count: 200) + ".data",
                     String(repeating: "y", count: 249), String(repeating: "z", count: 250), "dv-x", "shv-y"]
        for kind in ChildNames.Kind.allCases {
            for name in names where name.count <= ChildNames.maxVolumeNameLength(kind: kind) {
                let claim = ChildNames.claimName(kind: kind, name: name)
                #expect(claim.count <= ChildNames.maxClaimLength)
                #expect(Self.isObjectName(claim), "\(claim)")
                let back = try #require(ChildNames.volume(ofClaim: claim))
                #expect(back.kind == kind && back.name == name, "\(claim)")
            }
        }
        #expect(ChildNames.maxVolumeNameLength(kind: .dataVolume) == 250)
        #expect(ChildNames.maxVolumeNameLength(kind: .sharedVolume) == 249)
        for other in ["data", "dv-", "shv-", "dvx", "pvc-dv-a", "DV-a"] {
            #expect(ChildNames.volume(ofClaim: other) == nil, "\(other)")
        }
        // Every home a user name can have maps to a claim and back to that home.
        for user in ["alice", String(repeating: "a", count: 58), String(repeating: "a", count: 59), String(repeating: "Ab.", count: 100)] {
            let home = try #require(UserName.homeName(for: user))
            #expect(ChildNames.volume(ofClaim: ChildNames.claimName(kind: .dataVolume, name: home))?.name == home)
        }
    }

    /// The API server's rule for object names such as a PVC's (apimachinery's
    /// `IsDNS1123Subdomain`): at most 253 characters of dot-separated `[a-z0-9]([-a-z0-9]*[a-z0-9])?`;
    /// unlike a DNS host name, a part may be longer than 63.
    static func isObjectName(_ name: String) -> Bool {
        name.utf8.count <= 253 && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            guard let first = part.first, let last = part.last else { return false }
            let alnum = { (c: Character) in c.isASCII && (c.isLowercase || c.isNumber) }
            return alnum(first) && alnum(last) && part.allSatisfy { alnum($0) || $0 == "-" }
        }
    }

    @Test func namesTooLongForAClaimAreInvalid() {
        let fits = DataVolume(name: String(repeating: "d", count: 250), spec: DataVolumeSpec(size: "1Gi"))
        #expect(fits.validate().isEmpty)
        let long = DataVolume(name: String(repeating: "d", count: 251), spec: DataVolumeSpec(size: "1Gi"))
        #expect(long.validate().map(\.description) == [
            "metadata.name: must be at most 250 characters (this one has 251), so that the claim dv-<name> is a valid name of at most 253",
        ])
        let share = SharedVolume(name: String(repeating: "s", count: 250), spec: SharedVolumeSpec(size: "1Gi", accessLevel: "public"))
        #expect(share.validate().map(\.field) == ["metadata.name"])
    }

    @Test func sha256KnownAnswers() {
        #expect(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(sha256Hex(String(repeating: "a", count: 1000))
            == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

