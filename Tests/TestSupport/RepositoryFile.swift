import Foundation

/// The path of a file of this repository, such as `deploy/crds/kube-green.com_sleepinfos.yaml`.
public func repositoryFile(_ relative: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(relative).path
}
