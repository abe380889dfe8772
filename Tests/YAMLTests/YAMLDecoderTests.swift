import Foundation
import Testing
import YAML

@Suite struct YAMLDecoderTests {
    struct Volume: Decodable, Equatable {
        var name: String
        var size: String
        var replicas: Int
        var retain: Bool
        var ratio: Double?
        var access: Access
        var members: [Member]
        var labels: [String: String]?

        enum Access: String, Decodable { case RO, RW, RWD }
        struct Member: Decodable, Equatable {
            var user: String
            var readOnly: Bool?
        }
    }

    @Test func decodesNestedTypes() throws {
        let v = try YAMLDecoder().decode(Volume.self, from: """
        name: results
        size: 10Gi
        replicas: 0x10
        retain: on
        access: RWD
        members:
          - user: alice
            readOnly: false
          - {user: bob, readOnly: yes}
        labels: {team: a, version: 1.20}
        """)
        #expect(v == Volume(name: "results", size: "10Gi", replicas: 16, retain: true, ratio: nil, access: .RWD,
                            members: [.init(user: "alice", readOnly: false), .init(user: "bob", readOnly: true)],
                            labels: ["team": "a", "version": "1.20"]))
    }

    @Test func errorsNameTheFieldLineAndColumn() throws {
        let text = """
        name: results
        size: 10Gi
        replicas: 1
        retain: true
        access: RWX
        members: []
        """
        do {
            _ = try YAMLDecoder().decode(Volume.self, from: text)
            Issue.record("accepted access RWX")
        } catch {
            #expect(error.path == "access")
            #expect(error.mark == Mark(line: 5, column: 9))
        }
    }

    @Test func wrongTypeDeepInAList() {
        let text = """
        name: n
        size: 1Gi
        replicas: 1
        retain: true
        access: RO
        members:
          - user: alice
          - user: bob
            readOnly: "yes"
        """
        do {
            _ = try YAMLDecoder().decode(Volume.self, from: text)
            Issue.record("accepted a quoted boolean")
        } catch {
            #expect(error.code == .typeMismatch)
            #expect(error.path == "members[1].readOnly")
            #expect(error.mark?.line == 9)
            #expect(error.description.contains("without quotes"))
        }
    }

    @Test func missingKeyPointsAtItsMapping() {
        do {
            _ = try YAMLDecoder().decode(Volume.self, from: "name: n\nsize: 1Gi\nreplicas: 1\naccess: RO\nmembers: []\n")
            Issue.record("accepted a missing key")
        } catch {
            #expect(error.code == .missingKey)
            #expect(error.path == "retain")
            #expect(error.mark?.line == 1)
        }
    }

    @Test func duplicateKeysAreRejected() {
        do {
            _ = try YAMLDecoder().decode([String: String].self, from: "a: 1\nb: 2\na: 3\n")
            Issue.record("accepted a duplicate key")
        } catch {
            #expect(error.description.contains("duplicate key \"a\""))
            #expect(error.description.contains("line 3"))
        }
    }

    @Test func integerOverflowIsAnError() {
        #expect(throws: YAMLError.self) { try YAMLDecoder().decode([String: Int8].self, from: "a: 300") }
        #expect(try! YAMLDecoder().decode([String: UInt64].self, from: "a: 18446744073709551615")["a"] == .max)
    }

    @Test func dataAndDates() throws {
        struct S: Decodable { var blob: Data; var at: Date }
        let s = try YAMLDecoder().decode(S.self, from: "blob: aGVsbG8=\nat: 2026-11-22T03:18:00Z\n")
        #expect(String(decoding: s.blob, as: UTF8.self) == "hello")
        #expect(s.at == Date(timeIntervalSince1970: 1_795_317_480))
    }

    @Test func decodeAllSkipsEmptyDocuments() throws {
        struct Kind: Decodable { var kind: String }
        let kinds = try YAMLDecoder().decodeAll(Kind.self, from: "kind: A\n---\n---\nkind: B\n...\n")
        #expect(kinds.map(\.kind) == ["A", "B"])
    }
}
