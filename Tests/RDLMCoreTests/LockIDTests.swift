import Testing
@testable import RDLMCore

@Suite("LockID")
struct LockIDTests {
    @Test("an id prints as 32 lowercase hex characters")
    func printsLowercaseHex() {
        var generator = SeededGenerator(seed: 1)
        for _ in 0..<200 {
            let text = LockID(high: generator.next(), low: generator.next()).description
            #expect(text.utf8.count == 32)
            #expect(text.allSatisfy { "0123456789abcdef".contains($0) })
        }
    }

    @Test("the high word prints first, zero-padded")
    func layout() {
        #expect(LockID(high: 1, low: 0xAB).description == "000000000000000100000000000000ab")
        #expect(LockID(high: 0, low: 0).description == String(repeating: "0", count: 32))
        #expect(LockID(high: .max, low: .max).description == String(repeating: "f", count: 32))
    }

    @Test("hex round trip: parsing the description gives the same id")
    func roundTrip() {
        var generator = SeededGenerator(seed: 2)
        let edges = [LockID(high: 0, low: 0), LockID(high: .max, low: .max), LockID(high: 0, low: .max)]
        let randoms = (0..<500).map { _ in LockID(high: generator.next(), low: generator.next()) }
        for id in edges + randoms {
            #expect(LockID(hex: id.description) == id)
        }
    }

    @Test("parsing reads a Substring, such as the last path component of a lock URL")
    func parsesSubstring() {
        let path = "/locks/foo/aa4e181e17374148a21b30d9dcb941f9"
        let uid = path.split(separator: "/").last!
        let id = LockID(hex: uid)
        #expect(id == LockID(high: 0xAA4E_181E_1737_4148, low: 0xA21B_30D9_DCB9_41F9))
    }

    @Test("parsing rejects uppercase hex: ids are only ever given out in lowercase")
    func rejectsUppercase() {
        #expect(LockID(hex: "AA4E181E17374148A21B30D9DCB941F9") == nil)
    }

    @Test("parsing rejects a wrong length", arguments: [
        "", "a", String(repeating: "a", count: 31), String(repeating: "a", count: 33),
        String(repeating: "0", count: 64),
    ])
    func rejectsWrongLength(text: String) {
        #expect(LockID(hex: text) == nil)
    }

    @Test("parsing rejects non-hex characters", arguments: [
        "g" + String(repeating: "0", count: 31),
        String(repeating: "0", count: 31) + "z",
        "aa4e181e-7374148a21b30d9dcb941f9",
        "aa4e181e17374148 21b30d9dcb941f9",
        "0x4e181e17374148a21b30d9dcb941f9",
        "+a4e181e17374148a21b30d9dcb941f9",
        "é" + String(repeating: "0", count: 30),
        "aa4e181e17374148a21b30d9dcb941f_",
    ])
    func rejectsNonHex(text: String) {
        #expect(LockID(hex: text) == nil)
    }

    @Test("random ids are distinct")
    func randomDistinct() {
        let ids = Set((0..<1_000).map { _ in LockID.random() })
        #expect(ids.count == 1_000)
    }
}
