import Foundation
import JSON
import Transport

/// Reads an Application's manifests from GitLab through its REST API, as Argo CD's repo server
/// reads a Git repository: resolve the target revision to a commit, list the files under the
/// path, fetch every `.yaml`/`.yml`/`.json` file at that commit.
struct ManifestSource: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The GitLab base URL (`http://host:port`) and the token to read with.
    let baseURL: String
    let token: String?
    let client: HTTPClient

    /// `http://gitlab/group/project.git` → `group/project`.
    static func projectPath(repoURL: String) -> String? {
        guard let url = URL(string: repoURL), url.host != nil else { return nil }
        var path = url.path
        while path.hasPrefix("/") { path.removeFirst() }
        if path.hasSuffix(".git") { path.removeLast(4) }
        return path.isEmpty ? nil : path
    }

    /// The commit `revision` (a branch, `HEAD` or a commit id) points at.
    func resolve(project: String, revision: String) async throws -> String {
        let ref: String
        if revision.isEmpty || revision == "HEAD" {
            guard let branch = try await json("/projects/\(escape(project))")["default_branch"]?.string else {
                throw Failure(description: "repository \(project) is empty")
            }
            ref = branch
        } else {
            ref = revision
        }
        guard let sha = try await json("/projects/\(escape(project))/repository/commits/\(escape(ref))")["id"]?.string else {
            throw Failure(description: "unable to resolve '\(revision)' to a commit SHA")
        }
        return sha
    }

    /// The objects of every manifest file under `path` at `sha`, in path order.
    func manifests(project: String, path: String, sha: String) async throws -> [JSONValue] {
        let directory = path == "." ? "" : path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        var files: [String] = []
        var page = 1
        while true {
            var query = "ref=\(sha)&recursive=true&per_page=100&page=\(page)"
            if !directory.isEmpty { query += "&path=\(escape(directory))" }
            let response = try await get("/projects/\(escape(project))/repository/tree?\(query)")
            guard let entries = try? JSONValue(parsing: response.body).array else { throw Failure(description: "tree listing is not a JSON array") }
            files += entries.filter { $0["type"]?.string == "blob" }.compactMap { $0["path"]?.string }
                .filter { [".yaml", ".yml", ".json"].contains(where: $0.hasSuffix) }
            guard let next = response.headers["X-Next-Page"], let number = Int(next) else { break }
            page = number
        }
        var objects: [JSONValue] = []
        for file in files.sorted() {
            let response = try await get("/projects/\(escape(project))/repository/files/\(escape(file))/raw?ref=\(sha)")
            do {
                objects += try JSONValue.documents(yaml: String(decoding: response.body, as: UTF8.self)).flatMap { document in
                    document["kind"]?.string == "List" ? (document["items"]?.array ?? []) : [document]
                }
            } catch {
                throw Failure(description: "\(file): \(error)")
            }
        }
        return objects
    }

    private func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? text
    }

    private func json(_ path: String) async throws -> JSONValue {
        let response = try await get(path)
        do {
            return try JSONValue(parsing: response.body)
        } catch {
            throw Failure(description: "GitLab answered \(path) with something that is not JSON")
        }
    }

    /// A GET that waits out 429s (`Retry-After`) and retries 5xx and lost connections a few times.
    private func get(_ path: String) async throws -> HTTPResponse {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let token { headers["PRIVATE-TOKEN"] = token }
        var attempt = 0
        while true {
            attempt += 1
            var failure: String
            do {
                let response = try await client.send(HTTPRequest(url: baseURL + "/api/v4" + path, headers: headers))
                if (200..<300).contains(response.status) { return response }
                let message = (try? JSONValue(parsing: response.body)).flatMap { $0["message"]?.string ?? $0["error"]?.string }
                failure = "GitLab answered \(response.status)\(message.map { ": \($0)" } ?? "") for GET \(path)"
                if response.status == 429, attempt < 5 {
                    let seconds = response.headers["Retry-After"].flatMap(Int.init) ?? 1
                    try await Task.sleep(for: .seconds(seconds))
                    continue
                }
                guard response.status >= 500 else { throw Failure(description: failure) }
            } catch let error as TransportError {
                failure = "\(error)"
            }
            guard attempt < 3 else { throw Failure(description: failure) }
            try await Task.sleep(for: .milliseconds(100 * attempt))
        }
    }
}
