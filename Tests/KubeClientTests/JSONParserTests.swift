import Foundation
import Testing
@testable import KubeModel

/// The byte parser behind the client's decoding, and decoding typed values from its trees:
/// unit tests, no network.
@Suite struct JSONParserTests {
    // MARK: valid documents

    @Test func scalarsAndContainers() throws {
        #expect(try parse(#"{"a":[1,-2.5,true,false,null,"x"],"b":{}}"#) ==
                ["a": [1, .number(-2.5), true, false, nil, "x"], "b": .object([:])])
        #expect(try parse(" \t\r\n[ ] \n") == .array([]))
        #expect(try parse("\"top\"") == "top")
        #expect(try parse("42") == 42)
        #expect(try parse("null") == nil)
        #expect(try parse("\u{FEFF}{}") == .object([:]))
        #expect(try parse(#"{"k":1,"k":2}"#) == ["k": 1], "the first of duplicate keys wins, as in JSONDecoder")
    }

    @Test func numbers() throws {
        let cases: [(String, Double)] = [
            ("0", 0), ("-0", -0.0), ("7", 7), ("-123", -123), ("1.5", 1.5), ("-0.25", -0.25),
            ("1e3", 1000), ("1E3", 1000), ("1e+3", 1000), ("2.5e-3", 0.0025), ("123456789012345", 123456789012345),
            ("12345678901234567890", 12345678901234567890), ("9007199254740993", 9007199254740993),
            ("0.1", 0.1), ("1.7976931348623157e308", .greatestFiniteMagnitude), ("5e-324", .leastNonzeroMagnitude),
        ]
        for (text, value) in cases {
            #expect(try parse(text).numberValue == value, "\(text)")
            #expect(try parse(text).text == text, "\(text) is written back as it came")
        }
        #expect(try parse("-0").numberValue?.sign == .minus)
    }

    /// Numbers keep their literal: integers beyond 2^53 (where a `Double` rounds) and beyond
    /// `Int64`, numbers beyond a `Double`'s range, and decimal fractions all write back as
    /// they came, inside any document; integers read exactly.
    @Test func numbersAreExact() throws {
        for text in ["9007199254740993", "-9007199254740993", "9223372036854775807", "-9223372036854775808",
                     "18446744073709551615", "123456789012345678901234567890", "1e400", "-1e400", "0.1",
                     "0.30000000000000001", "1.50", "2.5E-3", "-0", "-0.0", "5e-324", "1e-400"] {
            let document = #"{"a":[\#(text)],"b":\#(text)}"#
            #expect(try parse(document).text == document, "\(text)")
        }
        #expect(try parse("9007199254740993").int64Value == 9_007_199_254_740_993)
        #expect(try parse("9007199254740993") != parse("9007199254740992"), "a Double could not tell them apart")
        #expect(try parse("-9223372036854775808").int64Value == .min)
        #expect(try parse("9223372036854775808").int64Value == nil, "Int64.max + 1")
        #expect(try parse("1e3").int64Value == 1000 && parse("1000.0").int64Value == 1000 && parse("1.5").int64Value == nil)
        #expect(try parse("-0").int64Value == 0)
        #expect(try parse("1e400").numberValue == .infinity)
        #expect(try parse("0.1").numberValue == 0.1)
        // Equal when they denote the same value, whatever their text; hashed alike then.
        #expect(try parse("1e3") == 1000 && parse("1000.0") == 1000 && parse("-0") == 0 && parse("0.10") == 0.1)
        #expect(try parse("0.30000000000000001") != 0.3 && parse("1e400") != parse("2e400"))
        #expect(try Set([parse("1e3"), parse("1000"), 1000, parse("10.0e2")]).count == 1)
    }

    /// Typed integer fields read exactly, up to the ends of their type.
    @Test func int64FieldsDecodeExactly() throws {
        let json = try parse(#"{"name":"x","generation":9223372036854775807,"uid":"u"}"#)
        #expect(try json.decode(as: ObjectMeta.self).generation == .max)
        let near = try parse(#"{"generation":9007199254740993}"#)
        #expect(try near.decode(as: ObjectMeta.self).generation == 9_007_199_254_740_993)
        #expect(throws: DecodingError.self) { try parse(#"{"generation":9223372036854775808}"#).decode(as: ObjectMeta.self) }
        #expect(throws: DecodingError.self) { try parse(#"{"generation":1.5}"#).decode(as: ObjectMeta.self) }
        struct Wide: Decodable { var u: UInt64; var i: Int64; var d: Double }
        let wide = try parse(#"{"u":18446744073709551615,"i":-9223372036854775808,"d":1e3}"#).decode(as: Wide.self)
        #expect(wide.u == .max && wide.i == .min && wide.d == 1000)
    }

    @Test func escapes() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == "\"\\/\u{8}\u{C}\n\r\t")
        #expect(try parse(#""\u0041\u00e9\u4e2d""#) == "Aé中")
        #expect(try parse(#""\ud83d\ude00 \uD834\uDD1E""#) == "😀 𝄞", "surrogate pairs, either case")
        #expect(try parse(#""\u0000""#) == "\u{0}")
        #expect(try parse("\"é中😀\"") == "é中😀", "raw UTF-8")
        #expect(try parse(#"{"a\nb":"pre\u0020post"}"#) == ["a\nb": "pre post"], "escaped key")
    }

    @Test func nestingUpToTheLimit() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        _ = try parse(ok)
        let deep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(throws: JSONParseError.self) { try parse(deep) }
        do {
            _ = try parse(deep)
        } catch {
            #expect(error.code == .tooDeep)
            #expect(error.offset == 512)
        }
        let objects = String(repeating: #"{"a":"#, count: 600) + "1" + String(repeating: "}", count: 600)
        #expect(throws: JSONParseError.self) { try parse(objects) }
    }

    // MARK: malformed documents

    @Test func malformedInputsNameTheProblemAndWhere() {
        let cases: [(String, JSONParseError.Code, Int)] = [
            ("", .unexpectedEnd, 0),
            ("   ", .unexpectedEnd, 3),
            ("[", .unexpectedEnd, 1),
            ("[1,", .unexpectedEnd, 3),
            (#"{"a":1,}"#, .unexpectedByte, 7),
            ("[1,]", .unexpectedByte, 3),
            (#"{"a" 1}"#, .unexpectedByte, 5),
            ("{1:2}", .unexpectedByte, 1),
            ("[1 2]", .unexpectedByte, 3),
            ("01", .invalidNumber, 0),
            ("1.", .unexpectedEnd, 0),
            ("1.x", .invalidNumber, 2),
            ("1e", .unexpectedEnd, 0),
            ("-", .unexpectedEnd, 0),
            ("-a", .invalidNumber, 1),
            ("+1", .unexpectedByte, 0),
            (".5", .unexpectedByte, 0),
            (#""\x""#, .invalidEscape, 1),
            (#""\u12G4""#, .invalidEscape, 1),
            (#""\ud800""#, .invalidUnicode, 1),
            (#""\ud800\u0041""#, .invalidUnicode, 1),
            (#""\udc00""#, .invalidUnicode, 1),
            (#""abc"#, .unexpectedEnd, 0),
            ("\"a\u{1}b\"", .unexpectedByte, 2),
            ("\"a\nb\"", .unexpectedByte, 2),
            ("tru", .unexpectedEnd, 0),
            ("nul", .unexpectedEnd, 0),
            ("trUe", .unexpectedByte, 0),
            ("[1] x", .trailingData, 4),
            ("{}{}", .trailingData, 2),
            ("NaN", .unexpectedByte, 0),
        ]
        for (text, code, offset) in cases {
            do {
                let value = try parse(text)
                Issue.record("\(text.debugDescription) parsed as \(value)")
            } catch {
                #expect(error.code == code, "\(text.debugDescription): \(error)")
                #expect(error.offset == offset, "\(text.debugDescription): \(error)")
                #expect(error.description.contains("at byte \(offset)"))
            }
        }
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0xFF]] {
            #expect(throws: JSONParseError.self) { try JSONValue(parsing: bytes) }
        }
    }

    // MARK: properties

    /// Random values written by Foundation's JSONEncoder read back equal, and equal to what
    /// Foundation's JSONDecoder reads.
    @Test func randomValuesRoundTripThroughJSONEncoder() throws {
        var rng = SplitMix(seed: 0x5107A6E)
        let encoders = [JSONEncoder(), JSONEncoder.kube, { let e = JSONEncoder(); e.outputFormatting = .prettyPrinted; return e }()]
        for i in 0..<300 {
            let value = randomValue(&rng, depth: 0)
            let data = try encoders[i % encoders.count].encode(value)
            let parsed = try JSONValue(parsing: data)
            #expect(parsed == value, "\(String(decoding: data, as: UTF8.self))")
            #expect(parsed == (try JSONDecoder().decode(JSONValue.self, from: data)))
        }
    }

    /// Every proper prefix of an object is malformed, and random damage never crashes the
    /// parser: it either reads a value Foundation also reads (and the same one) or throws.
    @Test func truncatedAndDamagedInputsThrowAndNeverCrash() throws {
        var rng = SplitMix(seed: 42)
        for _ in 0..<20 {
            var value: JSONValue
            repeat { value = randomValue(&rng, depth: 0) } while !isContainer(value)
            let bytes = Array(try JSONEncoder.kube.encode(value))  // sorted keys: reproducible
            for end in 0..<bytes.count {
                #expect(throws: JSONParseError.self) { try JSONValue(parsing: Array(bytes[..<end])) }
            }
            for _ in 0..<100 {
                var damaged = bytes
                for _ in 0...rng.next(3) {
                    let at = rng.next(damaged.count)
                    switch rng.next(3) {
                    case 0: damaged[at] = UInt8(truncatingIfNeeded: rng.next(256))
                    case 1: damaged.insert(Array(#"{}[],:"\u0123456789eE.-+tfn "#.utf8)[rng.next(26)], at: at)
                    default: damaged.remove(at: at)
                    }
                    if damaged.isEmpty { break }
                }
                guard let ours = try? JSONValue(parsing: damaged) else { continue }
                // Foundation reads numbers as `Double`s, which damage can take past their
                // precision: compared as it reads them.
                if let foundation = try? JSONDecoder().decode(JSONValue.self, from: Data(damaged)) {
                    #expect(asDoubles(ours) == asDoubles(foundation), "\(String(decoding: damaged, as: UTF8.self))")
                }
            }
        }
    }

    // MARK: typed decoding from a tree

    @Test func typedDecodingFromATreeMatchesJSONDecoder() throws {
        let data = Data(Self.pod.utf8)
        let viaTree = try JSONValue(parsing: data).decode(as: Pod.self)
        let viaFoundation = try JSONDecoder.kube.decode(Pod.self, from: data)
        #expect(viaTree.metadata == viaFoundation.metadata)
        #expect(viaTree.spec == viaFoundation.spec)
        #expect(viaTree.status == viaFoundation.status)
        #expect(viaTree.metadata.creationTimestamp == Date(timeIntervalSince1970: 1_795_338_000))
        #expect(viaTree.spec?.volumes?.last?.emptyDir == ["medium": "Memory"])
        #expect(viaTree.spec?.securityContext?.runAsUser == 1000)

        let cm = try JSONValue(parsing: Data(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"binaryData":{"b":"AAEC"}}"#.utf8))
        #expect(try cm.decode(as: ConfigMap.self).binaryData == ["b": Data([0, 1, 2])])
    }

    @Test func typedDecodingFromATreeFailsLikeJSONDecoder() throws {
        struct Numbers: Decodable { var small: Int8; var whole: Int }
        #expect(message(ConfigMap.self, #"{"kind":"ConfigMap","metadata":{}}"#).contains("apiVersion"))
        #expect(message(ConfigMap.self, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":7}}"#).contains("metadata"))
        #expect(message(ConfigMap.self, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"creationTimestamp":"yesterday"}}"#).contains("RFC 3339"))
        #expect(message(Numbers.self, #"{"small":300,"whole":1}"#).contains("Int8"))
        #expect(message(Numbers.self, #"{"small":1,"whole":1.5}"#).contains("Int"))
        #expect(message(Numbers.self, #"{"small":1,"whole":null}"#).contains("null"))
        #expect(message(Numbers.self, #"{"small":1,"whole":2}"#) == "decoded")
        let element = message([String].self, #"["a",1]"#)
        #expect(element.contains("[1]") || element.contains("Index 1"), "\(element)")
    }

    /// Strings are written in runs between the bytes that need escaping: every control
    /// character, quotes and backslashes at either end and side by side, and non-ASCII text.
    @Test func stringsWithEscapesAnywhereRoundTrip() throws {
        let controls = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) })
        for text in ["", "plain", "\"", "\\", "\"\"\\", "\"start", "end\\", "a\"b\\c\nd", controls, controls + "x" + controls,
                     "é\u{1}ü\"日本\t", String(repeating: "long run ", count: 100) + "\"" + String(repeating: "é", count: 50)] {
            let written = JSONValue.string(text).text
            #expect(try parse(written) == .string(text), "\(written)")
            #expect(try JSONDecoder().decode(String.self, from: Data(written.utf8)) == text)
            var viaString = ""
            JSONValue.write(string: text, to: &viaString)
            #expect(viaString == written)
        }
    }

    /// The writer scans eight bytes at a time: each byte that needs an escape, at every
    /// offset of strings of every length around a word or two, and bytes next to them that
    /// do not (0x1F..0x21, 0x5B..0x5D, non-ASCII), give what a byte-by-byte escape gives.
    @Test func escapesAreFoundAtEveryOffsetOfAWord() throws {
        func reference(_ text: String) -> String {
            var out = "\""
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""): out += "\\\""
                case UInt8(ascii: "\\"): out += "\\\\"
                case UInt8(ascii: "\n"): out += "\\n"
                case UInt8(ascii: "\r"): out += "\\r"
                case UInt8(ascii: "\t"): out += "\\t"
                case ..<0x20: out += "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
                default: out.unicodeScalars.append(Unicode.Scalar(byte))
                }
            }
            return out + "\""
        }
        let specials: [Character] = ["\"", "\\", "\u{0}", "\u{1}", "\n", "\u{1F}"]
        let neighbours: [Character] = [" ", "!", "[", "]", "\u{7F}"]
        for length in 1...20 {
            for offset in 0..<length {
                for special in specials + neighbours {
                    var characters = Array(repeating: Character("a"), count: length)
                    characters[offset] = special
                    let text = String(characters)
                    #expect(JSONValue.string(text).text == reference(text), "\(length) \(offset) \(special.unicodeScalars.first!.value)")
                }
            }
        }
        // Multi-byte text around an escape, and an escape in every word of a long run.
        let wide = String(repeating: "é日", count: 9) + "\"" + String(repeating: "ü", count: 7)
        #expect(try parse(JSONValue.string(wide).text) == .string(wide))
        let many = (0..<40).map { "seven!" + ($0 % 3 == 0 ? "\\" : "\u{2}") }.joined()
        #expect(try JSONDecoder().decode(String.self, from: Data(JSONValue.string(many).text.utf8)) == many)
    }

    /// The parser scans strings eight bytes at a time too: at every offset of strings around
    /// a word or two, an escape is read, a raw control character refused (naming where), and
    /// non-ASCII text validated (an invalid byte refused), as byte by byte, and the value
    /// after a string is read from where the string ends.
    @Test func stringsAreScannedRightAtEveryOffsetOfAWord() throws {
        for length in 1...20 {
            for offset in 0..<length {
                func text(_ special: String) -> String {
                    String(repeating: "a", count: offset) + special + String(repeating: "b", count: length - offset - 1)
                }
                for special in [#"\\"#, #"\""#, #"\n"#, #"\u00e9"#, "é", "日", "\u{7F}", " ", "]"] {
                    let decoded = try JSONDecoder().decode(String.self, from: Data("\"\(text(special))\"".utf8))
                    #expect(try parse("\"\(text(special))\"") == .string(decoded), "\(length) \(offset) \(special)")
                    #expect(try parse("[\"\(text(special))\",1]") == [.string(decoded), 1])
                }
                for control in ["\u{0}", "\u{1}", "\n", "\u{1F}"] {
                    #expect(throws: JSONParseError.self, "raw control at \(offset) of \(length)") { try parse("\"\(text(control))\"") }
                }
                var invalid = Array("\"\(text("x"))\"".utf8)
                invalid[1 + offset] = 0xFF
                #expect(throws: JSONParseError.self, "0xFF at \(offset) of \(length)") { try JSONValue(parsing: invalid) }
                #expect(throws: JSONParseError.self, "unterminated at \(length)") { try parse("\"\(text("x"))") }
            }
        }
    }

    /// Scalars, string maps and string lists are read straight from the tree when they have
    /// the expected type; the rest must decode as JSONDecoder decodes them, or fail where it
    /// fails, naming the field.
    @Test func directReadsDecodeAndFailLikeJSONDecoder() throws {
        struct Fields: Decodable, Equatable {
            var flag: Bool
            var name: String
            var on: Bool?
            var count: Int?
            var small: Int32?
            var big: Int64?
            var unsigned: UInt64?
            var ratio: Double?
            var labels: [String: String]?
            var args: [String]?
        }
        enum Outcome: Equatable {
            case decoded(Fields)
            /// The first key of the error's coding path ("" at the top).
            case failed(String)
            var value: Fields? { if case .decoded(let v) = self { v } else { nil } }
        }
        func viaTree(_ json: String) -> Outcome {
            do {
                return .decoded(try JSONValue(parsing: Data(json.utf8)).decode(as: Fields.self))
            } catch {
                switch error as? DecodingError {
                case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?, .dataCorrupted(let c)?:
                    return .failed(c.codingPath.first?.stringValue ?? "")
                case .keyNotFound(let key, _)?: return .failed(key.stringValue)
                default: return .failed("\(error)")
                }
            }
        }
        func viaFoundation(_ json: String) -> Fields? { try? JSONDecoder.kube.decode(Fields.self, from: Data(json.utf8)) }

        let base = #""flag":true,"name":"n""#
        for good in [#""on":false,"count":3,"small":-2,"big":9007199254740991,"unsigned":7,"ratio":0.5,"labels":{"a":"1","b":""},"args":["x","","y"]"#,
                     #""on":null,"count":null,"small":null,"big":null,"unsigned":null,"ratio":null,"labels":null,"args":null"#, #""count":3.0"#] {
            let json = "{\(base),\(good)}"
            let decoded = try #require(viaTree(json).value, "\(json)")
            #expect(decoded == viaFoundation(json), "\(json)")
        }
        #expect(viaTree("{\(base),\"labels\":{\"a\":\"1\"}}").value?.labels == ["a": "1"])
        let bad: [(String, String)] = [
            (#"{"flag":1,"name":"n"}"#, "flag"), (#"{"flag":true,"name":2}"#, "name"), (#"{"flag":null,"name":"n"}"#, "flag"),
            (#"{"name":"n"}"#, "flag"), ("{\(base),\"on\":\"yes\"}", "on"), ("{\(base),\"count\":1.5}", "count"),
            ("{\(base),\"count\":\"3\"}", "count"), ("{\(base),\"small\":3000000000}", "small"),
            ("{\(base),\"unsigned\":-1}", "unsigned"), ("{\(base),\"ratio\":\"x\"}", "ratio"),
            ("{\(base),\"labels\":{\"a\":1}}", "labels"), ("{\(base),\"labels\":[]}", "labels"),
            ("{\(base),\"args\":[\"a\",null]}", "args"), ("{\(base),\"args\":\"a\"}", "args"),
        ]
        for (json, field) in bad {
            #expect(viaFoundation(json) == nil, "\(json)")
            #expect(viaTree(json) == .failed(field), "\(json)")
        }
    }

    /// `JSONValue` fields inside types decoded by Foundation's JSONDecoder (the webhook's
    /// AdmissionReview, tests) read every kind of value.
    @Test func jsonValueFieldsThroughJSONDecoder() throws {
        struct Holder: Decodable { var values: [JSONValue]; var one: JSONValue }
        let json = #"{"values":["s",{"k":["v",2]},[1,[]],3.5,-2,true,false,null,{}],"one":{"a":{"b":null}}}"#
        let holder = try JSONDecoder.kube.decode(Holder.self, from: Data(json.utf8))
        #expect(holder.values == ["s", ["k": ["v", 2]], [1, .array([])], .number(3.5), -2, true, false, nil, .object([:])])
        #expect(holder.one == ["a": ["b": nil]])
        #expect(holder.one == (try parse(#"{"a":{"b":null}}"#)))
    }

    @Test func rfc3339TimesReadByHandMatchTheFormatStyles() throws {
        var rng = SplitMix(seed: 7)
        for _ in 0..<500 {
            let date = Date(timeIntervalSince1970: Double(rng.next(4_102_444_800)))
            let text = date.formatted(Date.ISO8601FormatStyle())
            #expect(Array(text.utf8).withUnsafeBufferPointer { RFC3339Time.fast($0) } == date)
            #expect(RFC3339Time.parse(text) == (try Date.ISO8601FormatStyle().parse(text)), "\(text)")
        }
        #expect(RFC3339Time.parse("2026-11-22T03:18:00+01:30") == RFC3339Time.parse("2026-11-22T01:48:00Z"))
        #expect(RFC3339Time.parse("2024-02-29T23:59:59-00:00") == Date(timeIntervalSince1970: 1_709_251_199))
        #expect(RFC3339Time.parse("2026-11-22T03:18:00.25Z") == Date(timeIntervalSince1970: 1_795_317_480.25))
        for bad in ["", "2026-11-22", "2026-13-01T00:00:00Z", "2026-11-22 03:18:00Z", "yesterday"] {
            #expect(RFC3339Time.parse(bad) == nil, "\(bad)")
        }
        // Out-of-range fields are left to the format style, which rolls them over as before.
        for odd in ["2026-02-30T00:00:00Z", "2026-11-22T24:00:00Z"] {
            #expect(Array(odd.utf8).withUnsafeBufferPointer { RFC3339Time.fast($0) } == nil)
            #expect(RFC3339Time.parse(odd) == (try? Date.ISO8601FormatStyle().parse(odd)), "\(odd)")
        }
    }

    // MARK: support

    /// What decoding `json` as `type` from a tree says: "decoded" or the error.
    func message<T: Decodable>(_ type: T.Type, _ json: String) -> String {
        do {
            _ = try JSONValue(parsing: Data(json.utf8)).decode(as: type)
            return "decoded"
        } catch {
            return "\(error)"
        }
    }

    // MARK: writing, and compact originals

    @Test func writtenTextParsesBackToTheSameValue() throws {
        let tree = try parse(Self.pod)
        #expect(try parse(tree.text) == tree)
        #expect((["b": 1, "a": [true, nil, .number(2.5)]] as JSONValue).text == #"{"a":[true,null,2.5],"b":1}"#, "keys sorted")
        #expect(JSONValue.string("q\"\\\n\u{1}é").text == #""q\"\\\n\u0001é""#)
        for n in [0.1, -3, 1e-7, 1e15, 12345678901234567890, .greatestFiniteMagnitude] as [Double] {
            #expect(try parse(JSONValue.number(JSONNumber(n)).text) == .number(JSONNumber(n)), "\(n)")
            #expect(try parse(JSONValue.number(JSONNumber(n)).text).numberValue == n, "\(n)")
        }
    }

    @Test func aCompactedOriginalReadsAsTheSameJSON() throws {
        let tree = try parse(Self.pod)
        let original = Original(tree)
        let compact = original.compacted()
        #expect(!original.isCompact && compact.isCompact)
        #expect(compact.json == tree)
        #expect(compact == original && compact == compact.compacted())
        #expect(compact != Original(["other": 1]).compacted())
        var edited = compact
        edited.json = ["replaced": true]
        #expect(!edited.isCompact && edited.json == ["replaced": true])
    }

    func parse(_ text: String) throws(JSONParseError) -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

    /// `value` with every number rounded to the nearest `Double`.
    func asDoubles(_ value: JSONValue) -> JSONValue {
        switch value {
        case .number(let n): .number(JSONNumber(n.double))
        case .array(let items): .array(items.map(asDoubles))
        case .object(let members): .object(members.mapValues(asDoubles))
        default: value
        }
    }

    func isContainer(_ value: JSONValue) -> Bool {
        switch value {
        case .object, .array: true
        default: false
        }
    }

    func randomValue(_ rng: inout SplitMix, depth: Int) -> JSONValue {
        switch rng.next(depth > 4 ? 5 : 8) {
        case 0: return nil
        case 1: return .bool(rng.next(2) == 0)
        case 2: return .number(JSONNumber(Int(rng.next(2_000_000)) - 1_000_000))
        case 3: return .number(JSONNumber(Double(bitPattern: rng.state & 0x7FEF_FFFF_FFFF_FFFF) * (rng.next(2) == 0 ? 1 : -1)))
        case 4: return .string(randomString(&rng))
        case 5: return .array((0..<rng.next(6)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<rng.next(6) { object[randomString(&rng)] = randomValue(&rng, depth: depth + 1) }
            return .object(object)
        }
    }

    func randomString(_ rng: inout SplitMix) -> String {
        let pieces = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "中", "😀", "\u{FFFF}", "\u{10FFFF}", "f:data", "."]
        return (0..<rng.next(12)).map { _ in pieces[rng.next(pieces.count)] }.joined()
    }

    static let pod = """
    {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n","uid":"u-1","resourceVersion":"42",
     "generation":3,"creationTimestamp":"2026-11-22T09:00:00Z","labels":{"app":"stowage"},"annotations":{"a/b":"c"},
     "ownerReferences":[{"apiVersion":"stowage.io/v1alpha1","kind":"DataVolume","name":"dv","uid":"u-0","controller":true,"blockOwnerDeletion":true}],
     "finalizers":["stowage.io/cleanup"],"unknownField":{"kept":[1,2]},
     "managedFields":[{"manager":"m","operation":"Update","time":"2026-11-22T09:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{".":{}}}}]},
     "spec":{"containers":[{"name":"c","image":"busybox","command":["sh","-c"],"args":["echo \\"hi\\""],
       "env":[{"name":"E","value":"v"},{"name":"S","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}],
       "volumeMounts":[{"name":"data","mountPath":"/data","readOnly":true}],
       "securityContext":{"runAsNonRoot":true,"capabilities":{"drop":["ALL"]}},"resources":{"requests":{"cpu":"100m"}}}],
      "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"pvc"}},{"name":"tmp","emptyDir":{"medium":"Memory"}}],
      "restartPolicy":"Never","securityContext":{"runAsUser":1000,"fsGroup":2000},"automountServiceAccountToken":false},
     "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"c","ready":true,"restartCount":0}]}}
    """
}

/// A small deterministic generator, so a failure reproduces.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
