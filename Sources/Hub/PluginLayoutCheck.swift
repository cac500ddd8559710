import Foundation
import Scripting

/// Refuses a plugin directory that holds files but no plugin: plugins live in kind folders
/// (`policy/`, `teams/`, `slack/`, `notify/`), and a flat directory (one ConfigMap mounted as a
/// whole) would otherwise serve nothing, silently.
enum PluginLayoutCheck {
    /// The problem with `directory`, or nil when it has plugins, or nothing at all.
    static func problem(directory: String, statuses: [PluginStatus]) -> String? {
        guard statuses.isEmpty else { return nil }
        let files = visibleFiles(under: directory)
        guard !files.isEmpty else { return nil }
        let shown = files.prefix(5).joined(separator: ", ") + (files.count > 5 ? ", …" : "")
        return "plugin directory \(directory) has files (\(shown)) but no plugin: plugins must be in its folders "
            + "policy/*.lua, teams/<team>.lua, slack/commands.lua or notify/*.lua (one ConfigMap per folder, see docs/deploy.md)"
    }

    /// Regular files under `directory`, hidden entries (a ConfigMap's `..data`) skipped, symlinks followed.
    private static func visibleFiles(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            if path.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
                if (enumerator.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory { enumerator.skipDescendants() }
                continue
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(path)
            }
        }
        return files.sorted()
    }
}
