import Crypto
import Foundation

/// A file's content, identified as git identifies blobs (SHA-1 of `blob <size>\0<bytes>`).
struct Blob: Sendable, Equatable {
    let id: String
    let data: Data

    init(_ data: Data) {
        self.data = data
        var object = Data("blob \(data.count)\0".utf8)
        object.append(data)
        self.id = Repository.sha1(object)
    }
}

/// One commit: its whole tree (path → blob), parents and metadata. Commit ids are 40-hex SHA-1s.
struct Commit: Sendable {
    let sha: String
    let parents: [String]
    let tree: [String: Blob]
    let message: String
    let authorName: String
    let authorEmail: String
    let date: Date

    var title: String { String(message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") }
    var shortID: String { String(sha.prefix(8)) }
}

/// A change to the files of a branch, as the commits API's `actions[]` describe it.
enum FileAction: Sendable {
    case create(path: String, data: Data)
    case update(path: String, data: Data, lastCommitID: String?)
    case delete(path: String, lastCommitID: String?)
    case move(from: String, to: String, data: Data?, lastCommitID: String?)

    var path: String {
        switch self {
        case .create(let path, _), .update(let path, _, _), .delete(let path, _): path
        case .move(_, let to, _, _): to
        }
    }
}

/// An in-memory git repository: commits (with whole trees), branches, and the history queries
/// GitLab's API answers from (last commit touching a path, merge base, three-way merge by file).
struct Repository: Sendable {
    private(set) var commits: [String: Commit] = [:]
    private(set) var branches: [String: String] = [:]
    var defaultBranch: String
    private var sequence = 0

    init(defaultBranch: String) {
        self.defaultBranch = defaultBranch
    }

    var isEmpty: Bool { commits.isEmpty }

    /// A branch name, a full commit id, or an unambiguous prefix of at least 7 hex digits.
    func resolve(_ ref: String) -> Commit? {
        if let sha = branches[ref] { return commits[sha] }
        if let commit = commits[ref] { return commit }
        guard ref.count >= 7, ref.count < 40, ref.allSatisfy(\.isHexDigit) else { return nil }
        let matches = commits.keys.filter { $0.hasPrefix(ref.lowercased()) }
        return matches.count == 1 ? commits[matches[0]] : nil
    }

    func head(of branch: String) -> Commit? {
        branches[branch].flatMap { commits[$0] }
    }

    /// Adds a commit with `tree` on top of `parents` and returns it; branches are not moved.
    mutating func makeCommit(tree: [String: Blob], parents: [String], message: String, authorName: String, authorEmail: String, date: Date) -> Commit {
        sequence += 1
        let treeID = Self.sha1(Data(tree.keys.sorted().map { "\($0)\u{0}\(tree[$0]!.id)" }.joined(separator: "\n").utf8))
        var text = "tree \(treeID)\n"
        for parent in parents { text += "parent \(parent)\n" }
        text += "author \(authorName) <\(authorEmail)> \(date.timeIntervalSince1970) \(sequence)\n\n\(message)"
        let commit = Commit(sha: Self.sha1(Data(text.utf8)), parents: parents, tree: tree, message: message, authorName: authorName, authorEmail: authorEmail, date: date)
        commits[commit.sha] = commit
        return commit
    }

    mutating func setBranch(_ name: String, to sha: String) {
        branches[name] = sha
    }

    mutating func deleteBranch(_ name: String) {
        branches[name] = nil
    }

    /// Every commit reachable from `sha`, newest first (by date, then discovery order).
    func history(from sha: String) -> [Commit] {
        var seen: Set<String> = []
        var queue = [sha]
        var found: [Commit] = []
        while let next = queue.first {
            queue.removeFirst()
            guard seen.insert(next).inserted, let commit = commits[next] else { continue }
            found.append(commit)
            queue += commit.parents
        }
        return found.enumerated().sorted { ($0.element.date, -$0.offset) > ($1.element.date, -$1.offset) }.map(\.element)
    }

    /// The newest commit that changed `path`, following git's history simplification: through a
    /// merge, follow a parent with the same content; a commit whose content differs from every
    /// parent is the one.
    func lastCommit(touching path: String, from sha: String) -> Commit? {
        var current = commits[sha]
        while let commit = current {
            let blob = commit.tree[path]
            let parents = commit.parents.compactMap { commits[$0] }
            if let same = parents.first(where: { $0.tree[path] == blob }) {
                current = same
                continue
            }
            return blob == nil && parents.isEmpty ? nil : commit
        }
        return nil
    }

    func isAncestor(_ ancestor: String, of sha: String) -> Bool {
        history(from: sha).contains { $0.sha == ancestor }
    }

    /// The newest common ancestor of two commits.
    func mergeBase(_ first: String, _ second: String) -> Commit? {
        let ancestors = Set(history(from: second).map(\.sha))
        return history(from: first).first { ancestors.contains($0.sha) }
    }

    /// The tree of merging `source` into `target` file by file, or the paths both sides changed
    /// differently (the conflicts).
    func mergedTree(source: String, target: String) -> Result<[String: Blob], MergeConflict> {
        guard let sourceCommit = commits[source], let targetCommit = commits[target] else { return .failure(MergeConflict(paths: [])) }
        let base = mergeBase(source, target)?.tree ?? [:]
        var tree = targetCommit.tree
        var conflicts: [String] = []
        for path in Set(base.keys).union(sourceCommit.tree.keys).sorted() {
            let ours = targetCommit.tree[path], theirs = sourceCommit.tree[path], original = base[path]
            guard theirs != original else { continue }
            if ours == original || ours == theirs {
                tree[path] = theirs
            } else {
                conflicts.append(path)
            }
        }
        return conflicts.isEmpty ? .success(tree) : .failure(MergeConflict(paths: conflicts))
    }

    /// The files of `tree` under `directory` ("" for the root): one level, or every level when recursive.
    static func entries(of tree: [String: Blob], under directory: String, recursive: Bool) -> [TreeEntry] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        var entries: [String: TreeEntry] = [:]
        for (path, blob) in tree where path.hasPrefix(prefix) {
            let relative = path.dropFirst(prefix.count)
            let parts = relative.split(separator: "/").map(String.init)
            let depth = recursive ? parts.count : 1
            for level in 1...depth {
                let entryPath = prefix + parts.prefix(level).joined(separator: "/")
                let isFile = level == parts.count
                if entries[entryPath] == nil {
                    entries[entryPath] = TreeEntry(
                        id: isFile ? blob.id : Self.sha1(Data("tree \(entryPath)".utf8)), name: parts[level - 1],
                        type: isFile ? "blob" : "tree", path: entryPath, mode: isFile ? "100644" : "040000"
                    )
                }
            }
        }
        return entries.values.sorted { ($0.type == "tree" ? 0 : 1, $0.path) < ($1.type == "tree" ? 0 : 1, $1.path) }
    }

    static func sha1(_ data: Data) -> String {
        Insecure.SHA1.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}

struct MergeConflict: Error, Sendable {
    var paths: [String]
}

/// An entry of `GET /repository/tree`.
struct TreeEntry: Sendable {
    var id: String
    var name: String
    var type: String
    var path: String
    var mode: String
}
