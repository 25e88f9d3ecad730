import Glibc

/// systemd's readiness protocol (`Type=notify`, sd_notify(3)): one datagram of
/// `KEY=VALUE` lines to the `AF_UNIX` socket named by `$NOTIFY_SOCKET` (a path, or `@name`
/// in the abstract namespace). Without the variable, as when not started by systemd,
/// nothing is sent. Each state is a single `sendto`, which never blocks for long on a
/// datagram socket, so it is called where the state changes.
public struct SystemdNotifier: Sendable {
    private let socketPath: String?

    public init() {
        socketPath = getenv("NOTIFY_SOCKET").map { String(cString: $0) }
    }

    /// `READY=1`: the port answers.
    public func ready(status: String) {
        send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())")
    }

    /// `STOPPING=1`: graceful shutdown began.
    public func stopping() {
        send("STOPPING=1\nSTATUS=shutting down")
    }

    /// Sends `state`, if it can: systemd, not rdlmd, decides what a missing READY=1 means.
    private func send(_ state: String) {
        guard let socketPath, !socketPath.isEmpty else { return }
        var path = Array(socketPath.utf8)
        // `@name`: the abstract namespace, whose address starts with a NUL byte.
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        var address = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(state.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
            }
        }
    }
}
