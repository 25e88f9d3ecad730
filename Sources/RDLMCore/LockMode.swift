/// How a lock shares its resource.
public enum LockMode: String, Sendable, Hashable {
    /// Alone on the resource (the only mode of the original RDLM).
    case exclusive
    /// With any number of other shared holders, never with an exclusive one.
    case shared
}
