import Foundation
import Testing
@testable import KubeModel

/// `JSONReader`, which reads chosen fields straight from the bytes: it must accept exactly
/// the documents the parser accepts, read what the parser reads, and refuse what it cannot
/// read as the parser would (a field given twice, a field name with escapes).
@Suite struct JSONReaderTests {
    let parserTests = JSONParserTests()

    func skipAll(_ bytes: [UInt8]) throws(JSONParseError) {
        try JSONReader.read(Data(bytes)) { r throws(JSONParseError) in try r.skip() }
    }

    @Test func skippingAcceptsAndRefusesWhatTheParserDoesWhereItDoes() {
        let texts = [
            "", "   ", "[", "[1,", #"{"a":1,}"#, "[1,]", #"{"a" 1}"#, "{1:2}", "[1 2]", "01", "1.", "1.x", "1e", "-", "-a",
            "+1", ".5", "1e400", #""\x""#, #""\u12G4""#, #""\ud800""#, #""\ud800\u0041""#, #""\udc00""#, #""abc"#,
            "\"a\u{1}b\"", "\"a\nb\"", "tru", "nul", "trUe", "[1] x", "{}{}", "NaN",
            #"{"a":[1,-2.5,true,false,null,"x"],"b":{}}"#, "\u{FEFF}{}", #"{"k":1,"k":2}"#, #""\ud83d\ude00""#,
            #"{"a\nb":"pre\u0020post"}"#, "\"é中😀\"",
            String(repeating: "[", count: 512) + String(repeating: "]", count: 512),
            String(repeating: "[", count: 513) + String(repeating: "]", count: 513),
            String(repeating: #"{"a":"#, count: 600) + "1" + String(repeating: "}", count: 600),
        ]
        var inputs = texts.map { Array($0.utf8) }
        inputs += [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0xFF], [0x5B, 0x22, 0xC3, 0x22, 0x5D]]
        for bytes in inputs {
            let described = String(decoding: bytes, as: UTF8.self).debugDescription
            do {
                _ = try JSONValue(parsing: bytes)
                #expect(throws: Never.self, "\(described)") { try skipAll(bytes) }
            } catch let parsing {
                do {
                    try skipAll(bytes)
                    Issue.record("\(described): skipped, but the parser says \(parsing)")
                } catch {
                    #expect(error.code == parsing.code, "\(described): \(error) against \(parsing)")
                    #expect(error.offset == parsing.offset, "\(described): \(error) against \(parsing)")
                }
            }
        }
    }

    @Test func randomDamageIsSkippedExactlyWhenItParses() throws {
        var rng = SplitMix(seed: 0x5EAD)
        for _ in 0..<20 {
            let bytes = Array(try JSONEncoder.kube.encode(parserTests.randomValue(&rng, depth: 0)))
            for _ in 0..<100 {
                var damaged = bytes
                for _ in 0...rng.next(3) where !damaged.isEmpty {
                    let at = rng.next(damaged.count)
                    switch rng.next(3) {
                    case 0: damaged[at] = UInt8(truncatingIfNeeded: rng.next(256))
                    case 1: damaged.insert(Array(#"{}[],:"\u0123456789eE.-+tfn "#.utf8)[rng.next(26)], at: at)
                    default: damaged.remove(at: at)
                    }
                }
                let parses = (try? JSONValue(parsing: damaged)) != nil
                let skips = (try? skipAll(damaged)) != nil
                #expect(parses == skips, "\(String(decoding: damaged, as: UTF8.self))")
            }
        }
    }

    struct Read: Equatable {
        var name: String?
        var labels: [String: String]?
        var flags: [Bool?] = []
        var rest: JSONValue?
    }

    func read(_ text: String) throws(JSONParseError) -> Read {
        try JSONReader.read(Data(text.utf8)) { r throws(JSONParseError) in
            var result = Read()
            try r.members { key, r throws(JSONParseError) in
                switch key {
                case "name": result.name = try r.optionalString()
                case "labels": result.labels = try r.optionalStringMap()
                case "flags": try r.elements { r throws(JSONParseError) in result.flags.append(try r.optionalBool()) }
                case "rest": result.rest = try r.value()
                default: break
                }
            }
            return result
        }
    }

    @Test func readsTheFieldsAskedForAsTheParserReadsThem() throws {
        let text = #"{"skip":{"deep":[1,{"x":"\u00e9"}]},"name":"a\"b\u00e9","labels":{"k":"1","k":"2","\/":"s"},"flags":[true,null,false],"rest":{"b":[1,2]}}"#
        let result = try read(text)
        let tree = try JSONValue(parsing: Data(text.utf8))
        #expect(result.name == tree["name"]?.stringValue)
        #expect(result.labels == ["k": "1", "/": "s"], "the first of duplicate keys wins, as in the parser")
        #expect(result.flags == [true, nil, false])
        #expect(result.rest == tree["rest"])
        #expect(try read(#"{"name":null,"labels":null}"#) == Read())
    }

    @Test func refusesWhatItCannotReadAsTheParserDoes() throws {
        let cases: [(String, JSONParseError.Code)] = [
            (#"{"name":"a","name":"b"}"#, .unsupported),     // the parser keeps the first; the reader read it already
            (#"{"na\u006de":"a"}"#, .unsupported),            // a field name with escapes
            (#"{"name":1}"#, .unexpectedType),
            (#"{"labels":{"k":1}}"#, .unexpectedType),
            (#"{"labels":[]}"#, .unexpectedType),
            (#"{"flags":[1]}"#, .unexpectedType),
            (#"{"flags":{}}"#, .unexpectedType),
            (#"["name"]"#, .unexpectedType),
            (#"{"name":"a"} x"#, .trailingData),
            (#"{"other":"\x","name":"a"}"#, .invalidEscape),  // checked while skipped
        ]
        for (text, code) in cases {
            do {
                let result = try read(text)
                Issue.record("\(text) read as \(result)")
            } catch {
                #expect(error.code == code, "\(text): \(error)")
            }
        }
        // Fields it skips may come twice, as the parser allows.
        #expect(try read(#"{"other":1,"other":2,"name":"a"}"#).name == "a")
    }

    @Test func rereadsAValueItPassed() throws {
        let kind = try JSONReader.read(Data(#"{"spec":{"n":"x"},"kind":"Job"}"#.utf8)) { r throws(JSONParseError) -> String in
            var spec: Int?, kind = ""
            try r.members { key, r throws(JSONParseError) in
                switch key {
                case "spec": spec = r.offset; try r.skip()
                case "kind": kind = try r.string()
                default: break
                }
            }
            let n = try r.reread(at: spec!) { r throws(JSONParseError) -> String in
                var n = ""
                try r.members { key, r throws(JSONParseError) in if case "n" = key { n = try r.string() } }
                return n
            }
            return kind + "/" + n
        }
        #expect(kind == "Job/x")
    }
}
