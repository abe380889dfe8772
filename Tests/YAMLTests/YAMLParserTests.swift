import Testing
@testable import YAML

@Suite struct YAMLParserTests {
    let parser = YAMLParser()

    @Test func multiDocumentManifest() throws {
        let text = """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: demo
        ---
        # a comment-only gap between documents
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: levels, namespace: demo}
        data:
          levels.yaml: |
            groups:
              team-a: [alice, bob]
        """
        let docs = try parser.parseStream(text)
        #expect(docs.count == 3)
        #expect(docs[0]["metadata"]?["name"]?.scalarValue == "demo")
        #expect(docs[1].isNull)
        #expect(docs[2]["metadata"]?["namespace"]?.scalarValue == "demo")
        #expect(docs[2]["data"]?["levels.yaml"]?.scalarValue == "groups:\n  team-a: [alice, bob]")
        #expect(docs[2].mark == Mark(line: 8, column: 1))
    }

    @Test func anchorsAliasesAndMergeKeys() throws {
        let doc = try parser.parseDocument("""
        base: &base {size: 10Gi, access: RW}
        copy: *base
        merged:
          <<: *base
          access: RO
        list: [&x one, *x]
        """)
        #expect(doc["copy"]?["size"]?.scalarValue == "10Gi")
        #expect(doc["merged"]?["access"]?.scalarValue == "RO")
        #expect(doc["merged"]?["size"]?.scalarValue == "10Gi")
        #expect(doc["list"]?.sequenceElements?.compactMap(\.scalarValue) == ["one", "one"])
    }

    @Test func scalarStylesAndResolution() throws {
        let doc = try parser.parseDocument("""
        plainBool: yes
        quotedBool: "yes"
        single: 'it''s'
        double: "tab\\there"
        folded: >
          one
          two
        octal: 0755
        hex: 0x1F
        float: 1.5e3
        nothing: ~
        empty:
        inf: .inf
        word: infinity
        version: 1.20
        """)
        func resolved(_ key: String) -> ResolvedScalar? {
            if case .scalar(let s) = doc[key] { return s.resolved }
            return nil
        }
        #expect(resolved("plainBool") == .bool(true))
        #expect(resolved("quotedBool") == .string("yes"))
        #expect(resolved("single") == .string("it's"))
        #expect(resolved("double") == .string("tab\there"))
        #expect(resolved("folded") == .string("one two\n"))
        #expect(resolved("octal") == .int(0o755))
        #expect(resolved("hex") == .int(31))
        #expect(resolved("float") == .double(1500))
        #expect(resolved("nothing") == .null)
        #expect(resolved("empty") == .null)
        #expect(resolved("inf") == .double(.infinity))
        #expect(resolved("word") == .string("infinity"))
        #expect(resolved("version") == .double(1.2))
    }

    @Test(arguments: ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"])
    func yaml11TrueWords(_ word: String) throws {
        guard case .scalar(let s) = try parser.parseDocument("v: \(word)")["v"] else { Issue.record("not a scalar"); return }
        #expect(s.resolved == .bool(true))
    }

    @Test(arguments: ["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"])
    func yaml11FalseWords(_ word: String) throws {
        guard case .scalar(let s) = try parser.parseDocument("v: \(word)")["v"] else { Issue.record("not a scalar"); return }
        #expect(s.resolved == .bool(false))
    }

    @Test func syntaxErrorsCarryLineAndColumn() {
        let cases: [(String, Int)] = [
            ("a: 1\nb: [1, 2\nc: 3\n", 3),
            ("key: \"unterminated\n", 2),
            ("a:\n  - 1\n - 2\n", 3),
            ("a: 1\n\tb: 2\n", 2),
        ]
        for (text, line) in cases {
            do {
                _ = try parser.parseStream(text)
                Issue.record("accepted \(text.debugDescription)")
            } catch {
                #expect(error.code == .syntax)
                #expect(error.mark?.line == line, "\(text.debugDescription): \(error)")
                #expect(error.description.contains("line \(line)"))
            }
        }
    }

    @Test func undefinedAliasIsAnErrorAtItsPosition() {
        #expect(throws: YAMLError.self) { try parser.parseStream("a: 1\nb: *nope\n") }
        do { _ = try parser.parseStream("a: 1\nb: *nope\n") } catch {
            #expect(error.code == .undefinedAlias)
            #expect(error.mark == Mark(line: 2, column: 4))
        }
    }

    @Test func invalidUTF8IsReportedWithAPosition() {
        let bytes: [UInt8] = Array("a: 1\nb: ".utf8) + [0xFF, 0xFE, 0x41] + Array("\n".utf8)
        do {
            _ = try parser.parseStream(bytes)
            Issue.record("accepted invalid UTF-8")
        } catch {
            #expect(error.code == .syntax)
            #expect(error.mark?.line == 2)
        }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let text = String(repeating: "[", count: 100_000)
        do {
            _ = try parser.parseStream(text)
            Issue.record("accepted 100k nested lists")
        } catch {
            #expect(error.code == .tooDeep)
        }
    }

    @Test func aliasBombIsRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<12 {
            let ref = "*a\(i - 1)"
            text += "a\(i): &a\(i) [\(Array(repeating: ref, count: 10).joined(separator: ", "))]\n"
        }
        do {
            _ = try parser.parseStream(text)
            Issue.record("accepted a billion-laughs document")
        } catch {
            #expect(error.code == .tooLarge)
        }
    }
}
