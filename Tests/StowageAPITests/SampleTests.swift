import Foundation
import KubeModel
import Testing
import YAML
@testable import StowageAPI

/// Every manifest in `samples/` must decode into the Swift types, encode back to exactly
/// what it says (so no field is misspelt or ignored), and be valid.
@Suite struct SampleTests {
    /// The Secret sample; KubeModel has no Secret type because the operator never reads them.
    struct Secret: Codable {
        var apiVersion: String
        var kind: String
        var metadata: ObjectMeta
        var type: String?
        var stringData: [String: String]?
    }

    @Test func samplesExist() throws {
        #expect(try samplePaths().count >= 9)
    }

    @Test func everySampleDecodesExactlyAndValidates() throws {
        let decoder = YAMLDecoder()
        var kinds: [String: Int] = [:]
        for path in try samplePaths() {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let raw = try decoder.decode(JSONValue.self, from: text)
            let kind = raw["kind"]?.stringValue ?? ""
            kinds[kind, default: 0] += 1
            let file = URL(fileURLWithPath: path).lastPathComponent
            switch kind {
            case "DataVolume":
                let dv = try decoder.decode(DataVolume.self, from: text)
                #expect(try JSONValue(encoding: dv) == raw, "\(file) has fields DataVolume does not model")
                #expect(dv.validate().isEmpty, "\(file): \(dv.validate().summary)")
            case "SharedVolume":
                let shv = try decoder.decode(SharedVolume.self, from: text)
                #expect(try JSONValue(encoding: shv) == raw, "\(file) has fields SharedVolume does not model")
                #expect(shv.validate().isEmpty, "\(file): \(shv.validate().summary)")
            case "ConfigMap":
                let map = try decoder.decode(ConfigMap.self, from: text)
                #expect(map.metadata.name == StowageConfig.configMapName)
                let yaml = try #require(map.data?[StowageConfig.configMapKey])
                let config = try StowageConfig.parse(yaml: yaml)
                #expect(config.homes.enabled && !config.levels.isEmpty)
            case "Secret":
                let secret = try decoder.decode(Secret.self, from: text)
                #expect(Set(secret.stringData?.keys.map { $0 } ?? []) == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
            default:
                Issue.record("\(file): unexpected kind \(kind)")
            }
        }
        #expect(kinds == ["DataVolume": 7, "SharedVolume": 3, "ConfigMap": 1, "Secret": 1])
    }

    /// The shares in the samples get what the sample configuration says they should.
    @Test func sampleSharesUnderSampleConfig() throws {
        let decoder = YAMLDecoder()
        let text = try String(contentsOfFile: packageRoot + "/samples/stowage-config.yaml", encoding: .utf8)
        let map = try decoder.decode(ConfigMap.self, from: text)
        let config = try StowageConfig.parse(yaml: map.data?[StowageConfig.configMapKey] ?? "")
        func share(_ file: String) throws -> SharedVolume {
            try decoder.decode(SharedVolume.self, from: String(contentsOfFile: packageRoot + "/samples/" + file, encoding: .utf8))
        }
        let genomes = try share("sharedvolume-public-data.yaml")
        let modules = try share("sharedvolume-software.yaml")
        let records = try share("sharedvolume-secret.yaml")
        for s in [genomes, modules, records] { #expect(config.validate(s).isEmpty) }
        #expect(config.entitlement(user: "zoe", groups: [], to: genomes) == .read)
        // RO sync mode: mounted read-only even for ReadWrite members.
        #expect(config.entitlement(user: "alice", groups: [], to: genomes) == .read)
        #expect(config.entitlement(user: "bob", groups: [], to: modules) == .read)
        #expect(config.entitlement(user: "admin", groups: [], to: modules) == .read)
        #expect(config.entitlement(user: "zoe", groups: [], to: modules) == .none)
        #expect(config.entitlement(user: "erin", groups: [], to: records) == .read)
        #expect(config.entitlement(user: "alice", groups: [], to: records) == .none)
    }

    @Test func crdsDecode() throws {
        for file in ["datavolumes.yaml", "sharedvolumes.yaml"] {
            let text = try String(contentsOfFile: packageRoot + "/crds/" + file, encoding: .utf8)
            let crd = try YAMLDecoder().decode(CustomResourceDefinition.self, from: text)
            #expect(crd.spec["versions"] != nil)
        }
    }
}
