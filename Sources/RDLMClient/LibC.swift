// The C library, for every file of this module (pipes, poll, errno), in one place instead
// of the same conditional import in each file.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#endif
