/// The OpenAPI 3.1 description of the API, served at `/openapi.yaml`. A test checks that it
/// names exactly the routes the router has.
enum OpenAPIDocument {
    static let yaml = """
    openapi: 3.1.0
    info:
      title: Spona
      version: 0.1.0
    paths: {}
    """
}
