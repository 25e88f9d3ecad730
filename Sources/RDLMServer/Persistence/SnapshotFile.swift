import RDLMCore

/// `snapshot-G` while it is written. Every descriptor it needs (the temporary file and the
/// directory, to sync the rename) is opened by `create`, before any holder is encoded:
/// when descriptors or disk space run out, a failed attempt then costs a system call, not
/// an encoding of every held lock (8 MB for 100,000 of them).
struct SnapshotFile {
    let generation: Int
    let path: String
    private let temporaryPath: String
    private let directoryPath: String
    private let descriptor: Int32
    private let directoryDescriptor: Int32

    static func create(in directory: DataDirectory, generation: Int) throws(StorageError) -> SnapshotFile {
        let path = directory.snapshotPath(generation)
        let temporaryPath = path + ".tmp"
        let directoryDescriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw .posix("cannot open", directory.path) }
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            let failure = StorageError.posix("cannot create", temporaryPath)
            close(directoryDescriptor)
            throw failure
        }
        return SnapshotFile(generation: generation, path: path, temporaryPath: temporaryPath, directoryPath: directory.path,
                            descriptor: descriptor, directoryDescriptor: directoryDescriptor)
    }

    /// Writes and syncs the holders, then renames the file into place, which is the moment
    /// the new generation exists. On an error nothing has changed and the file is gone.
    /// - Returns: the snapshot's size in bytes.
    func install(holders: [JournalRecord.StoredLock], lastFencingToken: FencingToken) throws(StorageError) -> Int {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + holders.count * 128)
        JournalFraming.append(.snapshotBegin(lastFencingToken: lastFencingToken), to: &bytes)
        for lock in holders { JournalFraming.append(.granted(lock), to: &bytes) }
        JournalFraming.append(.snapshotEnd(count: UInt64(holders.count)), to: &bytes)
        do {
            try DataFile.writeAll(descriptor, bytes[...], path: temporaryPath)
            try DataFile.sync(descriptor, path: temporaryPath)
        } catch {
            discard()
            throw error
        }
        close(descriptor)
        guard rename(temporaryPath, path) == 0 else {
            let failure = StorageError.posix("cannot rename to", path)
            DataFile.remove(temporaryPath)
            close(directoryDescriptor)
            throw failure
        }
        return bytes.count
    }

    /// After `install`: makes the rename (and any file created in the directory since
    /// `create`) durable.
    func syncDirectory() throws(StorageError) {
        defer { close(directoryDescriptor) }
        guard fsync(directoryDescriptor) == 0 else { throw .posix("cannot sync", directoryPath) }
    }

    /// Gives up before `install`.
    func discard() {
        close(descriptor)
        close(directoryDescriptor)
        DataFile.remove(temporaryPath)
    }
}
