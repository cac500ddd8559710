import Foundation

/// The plugin files under a plugin directory, found by kind and in a stable order.
struct PluginDirectory: Sendable {
    /// One plugin file found on disk.
    struct File: Sendable, Equatable {
        /// Relative, `/`-separated: `policy/default.lua`.
        var path: String
        var kind: PluginKind
        var signature: FileSignature
    }

    /// Files larger than this are refused rather than read.
    static let maximumFileSize = 1 << 20

    let root: String

    /// Whether the root exists and is a directory (following symlinks).
    var exists: Bool { FileSignature(path: root)?.isDirectory == true }

    /// Every plugin file, sorted by kind then path. Symbolic links are followed; hidden entries
    /// (such as a ConfigMap's `..data`) are skipped.
    func scan() -> [File] {
        var files: [File] = []
        for directory in PluginKind.directories {
            let folder = root + "/" + directory
            guard FileSignature(path: folder)?.isDirectory == true,
                  let names = try? FileManager.default.contentsOfDirectory(atPath: folder)
            else { continue }
            for name in names where !name.hasPrefix(".") {
                let path = directory + "/" + name
                guard let kind = PluginKind(path: path), let signature = FileSignature(path: root + "/" + path),
                      signature.isRegularFile
                else { continue }
                files.append(File(path: path, kind: kind, signature: signature))
            }
        }
        return files.sorted { ($0.kind, $0.path) < ($1.kind, $1.path) }
    }

    /// The `.lua` files that are not plugins and not tests, so `lint` can point them out.
    func strayLuaFiles() -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var stray: [String] = []
        while let path = enumerator.nextObject() as? String {
            let components = path.split(separator: "/")
            if components.contains(where: { $0.hasPrefix(".") }) {
                continue
            }
            guard path.hasSuffix(".lua"), !path.hasSuffix("_test.lua"), PluginKind(path: path) == nil else { continue }
            stray.append(path)
        }
        return stray.sorted()
    }

    /// The text of `path`, refusing large or non-UTF-8 files.
    func read(_ path: String) throws(PluginError) -> String {
        let url = URL(fileURLWithPath: root + "/" + path)
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PluginError(.unreadable, file: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        guard data.count <= Self.maximumFileSize else {
            throw PluginError(.unreadable, file: path, message: "the file is larger than \(Self.maximumFileSize) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PluginError(.unreadable, file: path, message: "the file is not UTF-8 text")
        }
        return text
    }
}
