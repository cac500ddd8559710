import Foundation
import Kube
import TestSupport
import Testing

/// The image cannot be pulled or built on the test machines, so its runtime stage is checked
/// against the binary: the Debian packages holding the shared libraries `sandman` links
/// (readelf's NEEDED entries, resolved by ldd, owned per dpkg -S) must be exactly what the
/// runtime stage installs besides CA certificates and time zones. Swift's own libraries are
/// linked statically in the image (`--static-swift-stdlib`) and so are left out.
@Suite("Container image")
struct ContainerImageTests {
    static let extras: Set<String> = ["ca-certificates", "tzdata"]

    @Test func theRuntimeStageInstallsExactlyThePackagesOfTheBinarysLibraries() async throws {
        let binary = Self.releaseBinary ?? HubFixture.binary
        let needed = try await Self.run("readelf", ["-d", binary]).split(separator: "\n").compactMap { line -> String? in
            guard line.contains("(NEEDED)"), let start = line.firstIndex(of: "["), let end = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: start)..<end])
        }
        #expect(needed.contains("libcurl.so.4") && needed.contains("liblua5.4.so.0"), "\(needed)")
        var resolved: [String: String] = [:]
        for line in try await Self.run("ldd", [binary]).split(separator: "\n") {
            let words = line.split(whereSeparator: \.isWhitespace).map(String.init)
            if words.count >= 3, words[1] == "=>" { resolved[words[0]] = words[2] } else if let first = words.first, first.hasPrefix("/") {
                resolved[URL(fileURLWithPath: first).lastPathComponent] = first
            }
        }
        var packages: Set<String> = []
        for library in needed {
            let path = try #require(resolved[library], "ldd does not resolve \(library)")
            if let package = try await Self.package(owning: path) {
                packages.insert(package)
            } else {
                #expect(path.contains("/swift/"), "\(library) (\(path)) belongs to no Debian package and is not Swift's own")
            }
        }
        let installed = try Self.runtimeStagePackages()
        #expect(Self.extras.isSubset(of: installed), "the runtime stage lacks \(Self.extras.subtracting(installed))")
        #expect(installed.subtracting(Self.extras) == packages, "Dockerfile installs \(installed.subtracting(Self.extras).sorted()), the binary needs \(packages.sorted())")
    }

    @Test func theRuntimeStageRunsAsNonRootAndBuildsStatically() throws {
        let dockerfile = try String(contentsOfFile: repositoryFile("Dockerfile"), encoding: .utf8)
        let runtime = try #require(dockerfile.components(separatedBy: "\nFROM ").last)
        #expect(runtime.contains("\nUSER 65532:65532\n"))
        #expect(dockerfile.contains("swift build -c release --static-swift-stdlib --product sandman"))
        #expect(runtime.contains("COPY plugins /etc/sandman/plugins"))
    }

    static var releaseBinary: String? {
        let path = repositoryFile(".build/release/sandman")
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// The packages of the last stage's `apt-get install` lines.
    static func runtimeStagePackages() throws -> Set<String> {
        let dockerfile = try String(contentsOfFile: repositoryFile("Dockerfile"), encoding: .utf8)
        let runtime = dockerfile.components(separatedBy: "\nFROM ").last ?? ""
        let joined = runtime.replacingOccurrences(of: "\\\n", with: " ")
        var packages: Set<String> = []
        for line in joined.split(separator: "\n") where line.hasPrefix("RUN ") {
            for command in line.components(separatedBy: "&&") {
                let words = command.split(separator: " ").map(String.init)
                guard let install = words.firstIndex(of: "install"), words[..<install].contains("apt-get") else { continue }
                packages.formUnion(words[(install + 1)...].filter { !$0.hasPrefix("-") })
            }
        }
        return packages
    }

    static func package(owning path: String) async throws -> String? {
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        for candidate in [path, "/usr" + path, real] {
            let answer = try await ProcessOutput.run("dpkg", arguments: ["-S", candidate], timeout: .seconds(60))
            if answer.status == 0, let name = answer.stdout.split(separator: ":").first {
                return String(name)
            }
        }
        return nil
    }

    static func run(_ tool: String, _ arguments: [String]) async throws -> String {
        let output = try await ProcessOutput.run(tool, arguments: arguments, timeout: .seconds(60))
        #expect(output.status == 0, "\(tool) \(arguments.joined(separator: " ")): \(output.stderr)")
        return output.stdout
    }
}
