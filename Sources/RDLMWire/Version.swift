/// The version of rdlm's server and clients, one for the whole package.
public enum RDLMVersion {
    public static let current = "0.1.0"
}
