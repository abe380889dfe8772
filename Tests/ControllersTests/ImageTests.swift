import Foundation
import KubeTesting
import Testing

/// The image cannot be built on these machines (no container engine runs), so this checks
/// the Dockerfile against the binary instead: every shared library `stowage` links must
/// come from a package the runtime stage installs, from one of their dependencies, or from
/// the base image's required set; the Swift runtime must be linked statically.
@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct ImageTests {
    static let dockerfile = TestEnvironment.packageRoot + "/Dockerfile"

    @Test func theDockerfileIsMultiStageStaticAndNonRoot() throws {
        let file = try Dockerfile(path: Self.dockerfile)
        #expect(file.stages.count == 2)
        #expect(file.stages.first?.from.hasPrefix("swift:") == true, "\(file.stages.first?.from ?? "")")
        #expect(file.build.contains("--static-swift-stdlib") && file.build.contains("--product stowage"))
        let runtime = try #require(file.stages.last)
        #expect(runtime.from == "debian:bookworm-slim")
        #expect(runtime.lines.contains { $0.hasPrefix("USER 65532") })
        #expect(runtime.lines.contains { $0.hasPrefix("ENTRYPOINT") && $0.contains("stowage") })
        #expect(Set(runtime.packages).isSuperset(of: ["ca-certificates", "libcurl4", "libyaml-0-2"]), "\(runtime.packages)")
    }

    @Test func everyLibraryTheBinaryLinksComesFromTheRuntimePackages() throws {
        let file = try Dockerfile(path: Self.dockerfile)
        let runtime = try #require(file.stages.last)
        let system = try SystemPackages()
        let libraries = try Self.ldd(World.binary)
        let direct = try Self.needed(World.binary)
        #expect(libraries.contains { $0.name.hasPrefix("libcurl.so") } && libraries.contains { $0.name.hasPrefix("libyaml-0.so") })
        let owners = system.owners(of: libraries)
        let problems = system.problems(libraries: libraries, owners: owners, direct: direct, installed: runtime.packages,
                                       staticSwift: file.build.contains("--static-swift-stdlib"))
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

        // The check has teeth: without libcurl4 in the Dockerfile, it fails.
        let without = system.problems(libraries: libraries, owners: owners, direct: direct, installed: runtime.packages.filter { $0 != "libcurl4" },
                                      staticSwift: true)
        #expect(without.contains { $0.contains("libcurl.so.4") }, "\(without)")
        // And without the static Swift runtime, the toolchain's libraries are missing.
        let dynamic = system.problems(libraries: libraries, owners: owners, direct: direct, installed: runtime.packages, staticSwift: false)
        #expect(dynamic.contains { $0.contains("libswiftCore.so") } || !libraries.contains { $0.name == "libswiftCore.so" })
    }

    // MARK: - helpers

    struct Library: Hashable {
        var name: String
        var path: String?
    }

    /// Every library the dynamic loader resolves for `binary`, transitively.
    static func ldd(_ binary: String) throws -> [Library] {
        try run("/usr/bin/ldd", [binary]).split(separator: "\n").compactMap { line in
            let parts = line.trimmingCharacters(in: .whitespaces).components(separatedBy: " ")
            guard let name = parts.first, !name.hasPrefix("linux-vdso") else { return nil }
            if parts.count >= 3, parts[1] == "=>" { return Library(name: name, path: parts[2] == "not" ? nil : parts[2]) }
            return Library(name: (name as NSString).lastPathComponent, path: name.hasPrefix("/") ? name : nil)
        }
    }

    /// The libraries `binary` itself names (DT_NEEDED).
    static func needed(_ binary: String) throws -> Set<String> {
        let pattern = try Regex(#"\(NEEDED\)\s+Shared library: \[([^\]]+)\]"#)
        let output = try run("/usr/bin/readelf", ["-d", binary])
        return Set(output.matches(of: pattern).compactMap { $0.output[1].substring.map(String.init) })
    }

    static func run(_ tool: String, _ arguments: [String], anyStatus: Bool = false) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 || anyStatus ? output : ""
    }

    /// The stages of the Dockerfile and the packages each `apt-get install`s, including the
    /// list it copies from `scripts/image-packages` (shared with the test environment's image).
    struct Dockerfile {
        struct Stage {
            var from: String
            var lines: [String] = []
            var packages: [String] = []
        }
        var stages: [Stage] = []
        var build: String { stages.dropLast().flatMap(\.lines).joined(separator: "\n") }

        init(path: String) throws {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            // Join continued lines; drop comments.
            let logical = text.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
            for line in logical {
                if line.uppercased().hasPrefix("FROM ") {
                    let image = line.split(separator: " ")[1]
                    stages.append(Stage(from: String(image)))
                    continue
                }
                guard !stages.isEmpty else { continue }
                stages[stages.count - 1].lines.append(line)
                if line.hasPrefix("COPY scripts/image-packages") {
                    let list = try String(contentsOfFile: TestEnvironment.packageRoot + "/scripts/image-packages", encoding: .utf8)
                    stages[stages.count - 1].packages += list.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                        .filter { !$0.isEmpty && !$0.hasPrefix("#") }
                }
                for command in line.components(separatedBy: "&&") where command.contains("apt-get install") {
                    let words = command.split(whereSeparator: \.isWhitespace).map(String.init)
                    guard let at = words.firstIndex(of: "install") else { continue }
                    stages[stages.count - 1].packages += words[(at + 1)...].filter { !$0.hasPrefix("-") }
                }
            }
        }
    }

    /// What dpkg knows on this machine (Debian bookworm, like the runtime image): which
    /// package owns a file, what a package depends on, and the base every Debian image
    /// starts from (`debian:bookworm-slim` is a minbase: the Essential and `required`
    /// packages with their dependencies).
    struct SystemPackages {
        var base: Set<String> = []
        /// Installed package -> the first alternative of each Depends and Pre-Depends entry.
        var dependencies: [String: [String]] = [:]

        init() throws {
            let list = try ImageTests.run("/usr/bin/dpkg-query", ["-W", "-f", "${Package}\t${Priority}\t${Essential}\t${Depends}, ${Pre-Depends}\n"])
            var roots = Set<String>()
            for line in list.split(separator: "\n") {
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard fields.count == 4 else { continue }
                if fields[1] == "required" || fields[2] == "yes" { roots.insert(fields[0]) }
                dependencies[fields[0], default: []] += fields[3].components(separatedBy: ",").compactMap { entry in
                    let first = entry.components(separatedBy: "|")[0].trimmingCharacters(in: .whitespaces)
                    return first.split(separator: " ").first?.split(separator: ":").first.map(String.init)
                }
            }
            base = closure(roots)
        }

        /// The package owning each library, from one `dpkg -S` over every spelling of each
        /// path (with usrmerge, dpkg may know `/lib/...` or `/usr/lib/...`).
        func owners(of libraries: [Library]) -> [Library: String] {
            var spellings: [Library: [String]] = [:]
            for library in Set(libraries) {
                guard let path = library.path else { continue }
                let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
                spellings[library] = [path, real].flatMap { [$0, $0.hasPrefix("/usr/") ? String($0.dropFirst(4)) : "/usr" + $0] }
            }
            // dpkg -S exits 1 when some spelling is unknown; its output still lists the others.
            let output = (try? ImageTests.run("/usr/bin/dpkg", ["-S"] + Array(Set(spellings.values.joined())), anyStatus: true)) ?? ""
            var byPath: [String: String] = [:]
            for line in output.split(separator: "\n") {
                guard let colon = line.range(of: ": ") else { continue }
                let packages = line[..<colon.lowerBound].components(separatedBy: ", ")
                if let package = packages.first?.split(separator: ":").first { byPath[String(line[colon.upperBound...])] = String(package) }
            }
            return spellings.compactMapValues { $0.lazy.compactMap { byPath[$0] }.first }
        }

        /// `roots` and everything they depend on (the first alternative of each dependency,
        /// what apt installs).
        func closure(_ roots: Set<String>) -> Set<String> {
            var seen = Set<String>()
            var queue = Array(roots)
            while let package = queue.popLast() {
                guard seen.insert(package).inserted else { continue }
                queue += dependencies[package] ?? []
            }
            return seen
        }

        /// Each library that the runtime image would not have, with why.
        func problems(libraries: [Library], owners: [Library: String], direct: Set<String>, installed: [String],
                      staticSwift: Bool) -> [String] {
            let explicit = Set(installed).union(base)
            let available = closure(Set(installed)).union(base)
            var problems: [String] = []
            for library in libraries {
                guard let path = library.path else {
                    problems.append("\(library.name): not found by the loader")
                    continue
                }
                if path.contains("/lib/swift/linux/") {
                    // The Swift toolchain's own libraries: the test binary is a debug build
                    // linked dynamically; the image's release build links them statically,
                    // which holds only if the toolchain has a static archive of each.
                    let archive = path.replacingOccurrences(of: "/lib/swift/linux/", with: "/lib/swift_static/linux/")
                        .replacingOccurrences(of: ".so", with: ".a")
                    if !staticSwift {
                        problems.append("\(library.name): Swift toolchain library, and the Dockerfile does not use --static-swift-stdlib")
                    } else if !FileManager.default.fileExists(atPath: archive) {
                        problems.append("\(library.name): no static archive \(archive) for --static-swift-stdlib")
                    }
                    continue
                }
                guard let package = owners[library] else {
                    problems.append("\(library.name) (\(path)): no Debian package owns it")
                    continue
                }
                if direct.contains(library.name) && !explicit.contains(package) {
                    problems.append("\(library.name): linked directly, from \(package), which the runtime stage does not install by name (nor is it in the base image)")
                } else if !available.contains(package) {
                    problems.append("\(library.name): from \(package), which the runtime stage neither installs nor gets as a dependency")
                }
            }
            return problems
        }
    }
}
