#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A storage error, with the file and what failed, for logs and start-up messages.
public struct StorageError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }

    static func posix(_ action: String, _ path: String) -> StorageError {
        StorageError("\(action) \(path): \(String(cString: strerror(errno)))")
    }
}

/// Thin POSIX file operations: what the journal needs, with errors that name the file.
enum DataFile {
    static func readAll(_ path: String) throws(StorageError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .posix("cannot open", path) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .posix("cannot read", path)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    static func openForAppend(_ path: String) throws(StorageError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .posix("cannot open", path) }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, path: String) throws(StorageError) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .posix("cannot write", path)
            }
            offset += count
        }
    }

    static func sync(_ fd: Int32, path: String) throws(StorageError) {
        guard fdatasync(fd) == 0 else { throw .posix("cannot sync", path) }
    }

    /// Makes a file's creation, rename or removal in `directory` durable.
    static func syncDirectory(_ directory: String) throws(StorageError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .posix("cannot open", directory) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .posix("cannot sync", directory) }
    }

    /// Writes `bytes` to `path` atomically: a temporary file, synced, then renamed over.
    static func replace(_ path: String, with bytes: [UInt8], directory: String) throws(StorageError) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .posix("cannot create", temporary) }
        do {
            try writeAll(fd, bytes[...], path: temporary)
            try sync(fd, path: temporary)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw .posix("cannot rename to", path) }
        try syncDirectory(directory)
    }

    static func truncate(_ path: String, to length: Int) throws(StorageError) {
        guard Glibc.truncate(path, off_t(length)) == 0 else { throw .posix("cannot truncate", path) }
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    static func size(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }
}
