/// The OpenAPI 3.1 description of the API (`openapi.yaml` beside this file, compiled into
/// the binary), served at `/openapi.yaml`. Tests check that it names exactly the routes the
/// router has, and every response of every HTTP test against it.
enum OpenAPIDocument {
    static let yaml = String(decoding: PackageResources.openapi_yaml, as: UTF8.self)
}
