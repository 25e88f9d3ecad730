// The C library, for every file of this module (signals, processes, terminals), in one
// place instead of the same conditional import in each file.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#endif
