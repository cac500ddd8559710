import Glibc

/// Limits glibc's malloc to two arenas, as `MALLOC_ARENA_MAX=2` would (unless that is set).
/// By default it keeps up to eight per core for the many threads of a server (event loops,
/// Dispatch workers, plugin threads), each holding freed memory of its own: about 10 MiB more
/// resident memory for a hub of 3,000 namespaces, for no measurable speed (docs/benchmarks.md).
enum MemoryArenas {
    /// `M_ARENA_MAX` of glibc's <malloc.h>, which the Glibc module does not import.
    private static let arenaMaxParameter: Int32 = -8

    static func limit() {
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        _ = mallopt(arenaMaxParameter, 2)
    }
}

/// glibc's `int mallopt(int param, int value)`.
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
