/// A storage error, with the file and what failed, for logs and start-up messages.
public struct StorageError: Error, CustomStringConvertible {
    public var description: String
    /// The operating system's reason (`strerror`) when a POSIX call failed, for callers that
    /// word the message themselves; nil for the other errors.
    var systemReason: String?

    init(_ description: String, systemReason: String? = nil) {
        self.description = description
        self.systemReason = systemReason
    }

    /// The error of a POSIX call that just failed, from `code` (by default `errno`).
    static func posix(_ action: String, _ path: String, code: Int32 = errno) -> StorageError {
        let reason = String(cString: strerror(code))
        return StorageError("\(action) \(path): \(reason)", systemReason: reason)
    }
}

/// Thin POSIX file operations: what the journal, the data directory and the admin userpass
/// file need, with errors that name the file.
enum DataFile {
    /// The whole content of the file at `path`.
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

    /// Whether `path` is a directory, or a symbolic link to one.
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// Creates the directory `path` and any missing parents, as `mkdir -p` does: a directory
    /// that already exists is fine, anything else in the way is an error. The mode is 0777
    /// less the umask, as FileManager gave.
    static func createDirectories(_ path: String) throws(StorageError) {
        if isDirectory(path) { return }
        if let parent = parent(of: path) { try createDirectories(parent) }
        guard mkdir(path, 0o777) != 0 else { return }
        let code = errno
        // Made meanwhile by someone else, which is as good.
        if code == EEXIST && isDirectory(path) { return }
        throw .posix("cannot create", path, code: code)
    }

    /// `path` without its last component, or nil when that leaves nothing to create
    /// (`name`, `/name`).
    private static func parent(of path: String) -> String? {
        var rest = Substring(path)
        while rest.hasSuffix("/") { rest.removeLast() }
        guard let slash = rest.lastIndex(of: "/") else { return nil }
        var parent = rest[..<slash]
        while parent.hasSuffix("/") { parent.removeLast() }
        return parent.isEmpty ? nil : String(parent)
    }

    /// The names of the entries in `directory`, without `.` and `..`, in no particular order.
    static func names(in directory: String) throws(StorageError) -> [String] {
        guard let stream = opendir(directory) else { throw .posix("cannot open", directory) }
        defer { closedir(stream) }
        var names: [String] = []
        while true {
            // readdir says end and failure alike with nil; only a failure sets errno.
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw .posix("cannot read", directory) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }
}
