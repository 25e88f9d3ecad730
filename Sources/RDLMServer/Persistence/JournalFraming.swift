/// The frame around each record, in the journal and in snapshots:
/// `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload]`.
enum JournalFraming {
    static let headerSize = 8
    /// Larger than any record we write (titles and names are bounded far below this), so a
    /// length beyond it is damage, not data.
    static let maxPayload = 1 << 20

    static func append(_ record: JournalRecord, to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: [UInt8](repeating: 0, count: headerSize))
        record.encode(into: &bytes)
        let length = UInt32(bytes.count - start - headerSize)
        let crc = CRC32.checksum(bytes[(start + headerSize)...])
        write(length, into: &bytes, at: start)
        write(crc, into: &bytes, at: start + 4)
    }

    /// What reading a file of frames found.
    struct ReadResult {
        var records: [JournalRecord]
        /// Bytes of whole, valid frames from the start.
        var validLength: Int
        var damage: Damage?
    }

    enum Damage: Equatable {
        /// The last frame is incomplete or fails its checksum with nothing after it: a
        /// write cut short by a crash. Safe to cut off.
        case tornTail(offset: Int)
        /// A frame fails its checksum (or decodes to nothing) and more data follows:
        /// corruption, not a crash. Cutting there would lose what follows.
        case corrupt(offset: Int, reason: String)
    }

    static func read(_ bytes: [UInt8]) -> ReadResult {
        var records: [JournalRecord] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= headerSize else {
                return ReadResult(records: records, validLength: offset, damage: .tornTail(offset: offset))
            }
            let length = Int(read32(bytes, at: offset))
            let crc = read32(bytes, at: offset + 4)
            let end = offset + headerSize + length
            guard length <= maxPayload else {
                return ReadResult(records: records, validLength: offset,
                                  damage: end >= bytes.count ? .tornTail(offset: offset) : .corrupt(offset: offset, reason: "frame length \(length) is impossible"))
            }
            guard end <= bytes.count else {
                return ReadResult(records: records, validLength: offset, damage: .tornTail(offset: offset))
            }
            let payload = bytes[(offset + headerSize)..<end]
            guard CRC32.checksum(payload) == crc else {
                let damage: Damage = end == bytes.count ? .tornTail(offset: offset) : .corrupt(offset: offset, reason: "checksum mismatch")
                return ReadResult(records: records, validLength: offset, damage: damage)
            }
            guard let record = JournalRecord.decode(payload) else {
                return ReadResult(records: records, validLength: offset, damage: .corrupt(offset: offset, reason: "unknown record"))
            }
            records.append(record)
            offset = end
        }
        return ReadResult(records: records, validLength: offset, damage: nil)
    }

    private static func write(_ value: UInt32, into bytes: inout [UInt8], at index: Int) {
        for shift in 0..<4 {
            bytes[index + shift] = UInt8(truncatingIfNeeded: value >> UInt32(shift * 8))
        }
    }

    private static func read32(_ bytes: [UInt8], at index: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { value, shift in value | UInt32(bytes[index + shift]) << UInt32(shift * 8) }
    }
}
