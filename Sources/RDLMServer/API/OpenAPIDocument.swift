/// `docs/openapi.yaml`, the API's OpenAPI 3.1 document, as `GET /openapi.yaml` serves it.
/// SwiftPM embeds the file in the binary at build time (`PackageResources`), so it needs
/// no resource bundle at run time and cannot differ from the document in the tree.
enum OpenAPIDocument {
    static let path = "/openapi.yaml"
    /// RFC 9512's media type for YAML.
    static let contentType = "application/yaml"
    /// The document's bytes as text, decoded once (they are UTF-8, so nothing changes).
    static let text = String(decoding: PackageResources.openapi_yaml, as: UTF8.self)
}
