import CCrypt

/// A crypt(3) hash from the admin userpass file (`$2y$`/`$2b$` bcrypt, `$y$` yescrypt,
/// `$6$` SHA-512 crypt, or any other method libxcrypt enables), checked with libxcrypt
/// only: `crypt_rn` with a `struct crypt_data` of each call's own, so checks may run on
/// several threads at once.
struct CryptHash: Sendable, Equatable {
    /// The stored hash, method, parameters and salt included.
    let text: String

    /// What `crypt_checksalt` and a trial hash say of a stored hash, at load time.
    enum Verdict: Equatable {
        case usable
        /// Usable, but the method is one libxcrypt calls legacy or too cheap.
        case weak(String)
        /// Not a hash this libxcrypt can check.
        case unusable(String)
    }

    init(_ text: String) {
        self.text = text
    }

    /// Whether the hash can be used: a method libxcrypt knows and enables, and a complete
    /// hash (not only a setting such as `$6$salt`, which `crypt_checksalt` accepts too).
    /// Computes one hash, so it costs what one login does.
    func verdict() -> Verdict {
        switch crypt_checksalt(text) {
        case CRYPT_SALT_OK:
            break
        case CRYPT_SALT_METHOD_LEGACY:
            return completeness() ?? .weak("its hash method is a legacy one; prefer bcrypt (htpasswd -B) or yescrypt (mkpasswd -m yescrypt)")
        case CRYPT_SALT_TOO_CHEAP:
            return completeness() ?? .weak("its hash parameters are too cheap; hash it again with a higher cost")
        case CRYPT_SALT_METHOD_DISABLED:
            return .unusable("its hash method is disabled in this libxcrypt")
        default:
            return .unusable("its hash is not one libxcrypt knows (htpasswd's default $apr1$ is not: use htpasswd -B, or mkpasswd)")
        }
        return completeness() ?? .usable
    }

    /// nil when a trial hash with this setting has the stored hash's length; else why not.
    private func completeness() -> Verdict? {
        guard let trial = Self.crypt(Array("rdlm-trial".utf8), setting: text) else {
            return .unusable("its hash is malformed (libxcrypt cannot compute it)")
        }
        return trial.count == text.utf8.count ? nil : .unusable("its hash is incomplete (a setting without the hash itself?)")
    }

    /// Whether `password` hashes to this hash, compared in constant time.
    func matches(password: [UInt8]) -> Bool {
        guard let computed = Self.crypt(password, setting: text) else { return false }
        return ConstantTime.equals(computed, Array(text.utf8))
    }

    /// `crypt_rn(phrase, setting)`, or nil when libxcrypt fails (an unknown method, a
    /// malformed setting, a phrase with a NUL byte or longer than it accepts).
    static func crypt(_ phrase: [UInt8], setting: String) -> [UInt8]? {
        guard !phrase.contains(0), phrase.count < CRYPT_MAX_PASSPHRASE_SIZE else { return nil }
        // About 32 KiB: on the heap, zeroed before use (as crypt_rn asks) and after (it
        // held the phrase's intermediate state).
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        let size = MemoryLayout<crypt_data>.size
        let raw = UnsafeMutableRawPointer(data)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer {
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            data.deallocate()
        }
        let output: [UInt8]? = (phrase + [0]).withUnsafeBufferPointer { phraseBytes in
            phraseBytes.withMemoryRebound(to: CChar.self) { phraseChars in
                guard let result = crypt_rn(phraseChars.baseAddress, setting, raw, Int32(size)) else { return nil }
                return Array(String(cString: result).utf8)
            }
        }
        // A failed call may also write "*0" or "*1"; a hash never starts with '*'.
        guard let output, output.first != UInt8(ascii: "*") else { return nil }
        return output
    }
}

/// Comparing secrets without a timing that tells how much of them matched.
enum ConstantTime {
    static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt(a.count ^ b.count)
        let length = max(a.count, b.count)
        for index in 0..<length {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= UInt(x ^ y)
        }
        return difference == 0
    }
}
