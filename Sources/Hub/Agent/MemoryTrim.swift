#if canImport(Glibc)
import Glibc

/// Gives the memory a large evaluation freed back to the system. glibc's malloc keeps freed
/// memory in its heaps for reuse; an evaluation of 1,000 namespaces frees several MiB at once,
/// which would otherwise stay in the hub's resident memory (what a memory limit counts) until the
/// next one (docs/benchmarks.md).
enum MemoryTrim {
    static func release() {
        _ = malloc_trim(0)
    }
}

/// glibc's `int malloc_trim(size_t pad)` (<malloc.h>, which the Glibc module does not import).
@_silgen_name("malloc_trim")
private func malloc_trim(_ pad: Int) -> Int32
#else
enum MemoryTrim {
    static func release() {}
}
#endif
