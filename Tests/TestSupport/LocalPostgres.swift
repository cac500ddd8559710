// The throwaway PostgreSQL server and free loopback ports live in LocalPostgres (the benchmarks
// use them too); every test that imports TestSupport has them.
@_exported import LocalPostgres
