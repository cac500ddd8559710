import Foundation
import Kube

/// A throwaway PostgreSQL server for the tests or benchmarks of one process: `initdb` in a
/// temporary directory, listening on loopback on a free port, with its socket in that directory;
/// stopped and removed when the process exits. Each user asks for a fresh database
/// (`createDatabase()`).
///
/// PostgreSQL refuses to run as root (as CI does), so the server then runs as `nobody`. Missing
/// binaries are an error, not a skip: `make deps` installs them.
public final class PostgresServer: Sendable {
    public let host = "127.0.0.1"
    public let port: Int
    /// The superuser, trusted on loopback without a password.
    public let user = "postgres"
    let binaries: String
    let directory: String

    /// The server of this process, started on first use.
    public static func shared() async throws -> PostgresServer {
        try await holder.server()
    }

    private static let holder = Holder()

    /// A new empty database; returns its name.
    public func createDatabase() async throws -> String {
        let name = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await Self.check(
            binaries + "/createdb", ["-h", host, "-p", String(port), "-U", user, name], asServerUser: false, what: "createdb"
        )
        return name
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    public func url(database: String) -> String {
        "postgres://\(user)@\(host):\(port)/\(database)"
    }

    private init(binaries: String, directory: String, port: Int) {
        self.binaries = binaries
        self.directory = directory
        self.port = port
    }

    /// Starts the server once: concurrent first callers wait for the same start.
    private actor Holder {
        private var starting: Task<PostgresServer, any Error>?

        func server() async throws -> PostgresServer {
            if let starting { return try await starting.value }
            let task = Task { try await PostgresServer.start() }
            starting = task
            return try await task.value
        }
    }

    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    private static func start() async throws -> PostgresServer {
        guard let binaries = findBinaries() else {
            throw Unavailable(description: "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: the PostgreSQL tests and benchmarks need them (run `make deps`)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sandman-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            try FileManager.default.setAttributes([.ownerAccountID: 65534, .groupOwnerAccountID: 65534], ofItemAtPath: directory)
        }
        let data = directory + "/data"
        try await check(binaries + "/initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"], asServerUser: true, what: "initdb")
        let port = try LoopbackPort.free()
        let options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        try await check(binaries + "/pg_ctl", ["-D", data, "-o", options, "-l", directory + "/server.log", "-w", "-t", "60", "start"], asServerUser: true, what: "pg_ctl start")
        stopAtExit(pgCtl: binaries + "/pg_ctl", data: data, directory: directory)
        return PostgresServer(binaries: binaries, directory: directory, port: port)
    }

    private static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted(by: >).map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: $0 + "/postgres") }
    }

    /// Runs a PostgreSQL tool, as `nobody` when this process is root and the tool is the server's.
    private static func check(_ tool: String, _ arguments: [String], asServerUser: Bool, what: String) async throws {
        let (command, fullArguments) = asServerUser && getuid() == 0 ? ("/usr/sbin/runuser", ["-u", "nobody", "--", tool] + arguments) : (tool, arguments)
        let result = try await ProcessOutput.run(command, arguments: fullArguments, timeout: .seconds(120))
        guard result.status == 0 else {
            throw Unavailable(description: "\(what) failed (\(result.status)): \(result.stderr)\(result.stdout)")
        }
    }
}

/// What the exit handler stops: a C function pointer captures nothing, so it reads these.
nonisolated(unsafe) private var serverToStop: (pgCtl: String, data: String, directory: String)?

private func stopAtExit(pgCtl: String, data: String, directory: String) {
    serverToStop = (pgCtl, data, directory)
    atexit {
        guard let server = serverToStop else { return }
        let process = Process()
        let stop = [server.pgCtl, "-D", server.data, "-m", "immediate", "-w", "stop"]
        if getuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "nobody", "--"] + stop
        } else {
            process.executableURL = URL(fileURLWithPath: stop[0])
            process.arguments = Array(stop.dropFirst())
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: server.directory)
    }
}
