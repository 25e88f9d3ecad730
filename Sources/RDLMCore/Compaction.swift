/// Swift's collections keep their capacity when emptied, so a table that once held 10,000
/// waiters would keep their room forever. These give it back when a collection holds less
/// than an eighth of what it has room for (and the room is worth it), by rebuilding it.

extension Dictionary {
    package mutating func shrinkIfSparse() {
        guard capacity > 1_024, count < capacity / 8 else { return }
        var compacted = Dictionary(minimumCapacity: count)
        for (key, value) in self { compacted[key] = value }
        self = compacted
    }
}

extension Array {
    package mutating func shrinkIfSparse() {
        guard capacity > 1_024, count < capacity / 8 else { return }
        self = Array(unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = buffer.initialize(fromContentsOf: self)
        }
    }
}
