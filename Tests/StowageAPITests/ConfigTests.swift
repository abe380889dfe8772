import KubeModel
import SyncContract
import Testing
@testable import StowageAPI

@Suite struct ConfigTests {
    static let example = """
    groups:
      team-a: [alice, bob]
    levels:
      public:  {read: ["*"], write: ["members:ReadWrite"]}
      private: {read: ["members"], write: ["members:ReadWrite"]}
      secret:  {read: ["members"], write: [], sync: false}
      curated: {read: ["group:team-a", "user:carol"], write: ["user:dave"]}
    homes:
      enabled: true
      size: 5Gi
      storageClassName: standard
      mountPath: /home/jovyan
      access: RW
      source: {s3: {endpoint: "https://s3.example.org", bucket: homes, prefix: "users/{username}", credentialsSecretRef: {name: s3-creds}}}
    spawners:
      trusted: ["system:serviceaccount:jhub:hub"]
      userAnnotation: hub.jupyter.org/username
      groupsAnnotation: stowage.io/groups
    """

    @Test func parsesTheDocumentedShape() throws {
        let config = try StowageConfig.parse(yaml: Self.example)
        #expect(config.groups == ["team-a": ["alice", "bob"]])
        #expect(config.levels["public"] == AccessLevel(read: [.anyUser], write: [.readWriteMembers]))
        #expect(config.levels["private"] == AccessLevel(read: [.members], write: [.readWriteMembers]))
        #expect(config.levels["secret"] == AccessLevel(read: [.members], write: [], sync: false))
        #expect(config.levels["curated"] == AccessLevel(read: [.group("team-a"), .user("carol")], write: [.user("dave")]))
        #expect(config.homes.enabled && config.homes.size == "5Gi" && config.homes.storageClassName == "standard")
        #expect(config.homes.source?.s3?.prefix == "users/{username}")
        #expect(config.spawners.trusted == ["system:serviceaccount:jhub:hub"])
        #expect(config.spawners.groupsAnnotation == "stowage.io/groups")
    }

    @Test func emptyDocumentIsTheEmptyConfig() throws {
        #expect(try StowageConfig.parse(yaml: "") == .empty)
        #expect(try StowageConfig.parse(yaml: "# nothing yet\n") == .empty)
        #expect(!StowageConfig.empty.homes.enabled)
    }

    func error(_ yaml: String) -> ConfigError? {
        do { _ = try StowageConfig.parse(yaml: yaml); return nil } catch { return error }
    }

    @Test func unknownRuleNamesLineAndColumn() {
        let yaml = """
        groups:
          team-a: [alice]
        levels:
          public:
            read: ["*"]
          private:
            read: [memebers]
        """
        #expect(error(yaml)?.description
            == "line 7, column 12: levels.private.read[0]: unknown rule \"memebers\" (expected *, members, members:ReadWrite, group:NAME or user:NAME)")
    }

    @Test func yamlSyntaxError() throws {
        let e = try #require(error("levels:\n  public: {read: [\"*\"]\n  private: {}\n"))
        #expect(e.path == nil)
        #expect(e.line == 3)
        #expect(e.description.hasPrefix("line 3, column"))
    }

    @Test func wrongTypes() {
        #expect(error("levels:\n  public:\n    read: \"*\"\n")?.description
            == "line 3, column 11: levels.public.read: expected a list, found \"*\"")
        #expect(error("levels:\n  secret: {read: [members], sync: maybe}\n")?.description
            == "line 2, column 35: levels.secret.sync: expected true or false, found \"maybe\"")
        #expect(error("groups: [alice]\n")?.description == "line 1, column 9: groups: expected a mapping, found a list")
        #expect(error("- a\n")?.description == "line 1, column 1: expected a mapping, found a list")
    }

    @Test func unknownAndDuplicateKeys() {
        #expect(error("levels:\n  public: {raed: [\"*\"]}\n")?.description
            == "line 2, column 12: levels.public: unknown key \"raed\" (expected read, write, sync)")
        #expect(error("level:\n  public: {}\n")?.description
            == "line 1, column 1: unknown key \"level\" (expected groups, levels, homes, spawners)")
        #expect(error("groups:\n  a: [x]\n  a: [y]\n")?.description == "line 3, column 3: groups: duplicate key \"a\"")
    }

    @Test func homesPrefixNeedsPlaceholder() {
        let yaml = """
        homes:
          enabled: true
          source:
            s3:
              endpoint: https://s3.example.org
              bucket: homes
              prefix: users/shared
              credentialsSecretRef: {name: creds}
        """
        #expect(error(yaml)?.description
            == "line 7, column 15: homes.source.s3.prefix: must contain {username}, or every user would share one home")
    }

    @Test func homesSettingsAreValidated() throws {
        #expect(error("homes: {size: lots}\n")?.field == "homes.size")
        #expect(error("homes: {mountPath: home}\n")?.description == "line 1, column 20: homes.mountPath: must be an absolute path")
        #expect(error("homes: {access: RX}\n")?.description == "line 1, column 17: homes.access: unknown access \"RX\" (expected RO, RW or RWD)")
        #expect(error("homes: {access: RWD}\n")?.field == "homes.access")
        let badBucket = "homes:\n  source: {s3: {endpoint: \"https://x.org\", bucket: B, prefix: \"{username}\", credentialsSecretRef: {name: c}}}\n"
        #expect(error(badBucket)?.description
            == "line 2, column 52: homes.source.s3.bucket: must be 3-63 characters long (\"B\" has 1)")
        #expect(error("homes: {source: {s3: {bucket: b}}}\n")?.message == "missing required key \"credentialsSecretRef\"")
        func source(partChecksum: String) -> String {
            "homes:\n  source: {s3: {endpoint: \"https://x.org\", bucket: bbb, prefix: \"{username}\", credentialsSecretRef: {name: c}, partChecksum: \(partChecksum)}}\n"
        }
        #expect(error(source(partChecksum: "sha1"))?.description
            == "line 2, column 126: homes.source.s3.partChecksum: unknown part checksum \"sha1\" (expected crc32c or md5)")
        #expect(try StowageConfig.parse(yaml: source(partChecksum: "md5")).homes.source?.s3?.partChecksum == .md5)
    }

    @Test func homeDataVolume() throws {
        let config = try StowageConfig.parse(yaml: Self.example)
        let dv = try #require(config.homes.dataVolume(for: "Alice.Smith", namespace: "jhub"))
        #expect(dv.metadata.name == "home--41lice-2e-53mith")
        #expect(dv.metadata.namespace == "jhub")
        #expect(dv.spec.owner == "Alice.Smith")
        #expect(dv.spec.attachTo?.users == ["Alice.Smith"])
        #expect(dv.spec.source?.s3?.prefix == "users/-41lice-2e-53mith")
        #expect(dv.spec.mount?.path == "/home/jovyan")
        #expect(dv.metadata.labels?[StowageKeys.user] == "user--41lice-2e-53mith")
        #expect(dv.validate().isEmpty)
        #expect(config.homes.dataVolume(for: "", namespace: "jhub") == nil)
        #expect(StowageConfig.empty.homes.dataVolume(for: "alice", namespace: "jhub") == nil)
        // A user name cannot climb out of its prefix.
        #expect(config.homes.dataVolume(for: "../bob", namespace: "jhub")?.spec.source?.s3?.prefix == "users/-2e-2e-2fbob")
    }

    @Test func validateShareAgainstLevels() throws {
        let config = try StowageConfig.parse(yaml: Self.example)
        var share = SharedVolume(name: "s", spec: SharedVolumeSpec(size: "1Gi", accessLevel: "secret"))
        #expect(config.validate(share).isEmpty)
        share.spec.source = s3Source()
        #expect(config.validate(share) == [FieldError("spec.source", "access level \"secret\" does not allow sync with object storage")])
        share.spec.accessLevel = "topsecret"
        #expect(config.validate(share).first?.message == "unknown access level \"topsecret\" (defined: curated, private, public, secret)")
    }

    @Test func spawnerIdentity() throws {
        let spawners = try StowageConfig.parse(yaml: Self.example).spawners
        let annotations = ["hub.jupyter.org/username": "alice", "stowage.io/groups": "team-a, bio ,"]
        let trusted = spawners.identity(creator: "system:serviceaccount:jhub:hub", annotations: annotations)
        #expect(trusted.user == "alice" && trusted.groups == ["team-a", "bio"])
        let untrusted = spawners.identity(creator: "system:serviceaccount:jhub:default", annotations: annotations)
        #expect(untrusted.user == nil && untrusted.groups.isEmpty)
    }

    @Test func rulesPrintAsWritten() {
        for text in ["*", "members", "members:ReadWrite", "group:team-a", "user:alice"] {
            #expect(AccessRule(parsing: text)?.description == text)
        }
        for bad in ["", "group:", "user:", "members:ReadOnly", "everyone"] {
            #expect(AccessRule(parsing: bad) == nil)
        }
    }
}

extension ConfigError {
    var field: String? { path }
}
