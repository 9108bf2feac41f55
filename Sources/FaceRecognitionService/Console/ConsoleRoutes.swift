import Foundation
import Hummingbird

/// The web console at `/ui`: a page for people who do not code (recognise a photo, manage the
/// people of a collection, watch the service), served from the executable itself.
///
/// | route | answer |
/// |---|---|
/// | `GET /ui`, `GET /ui/` | the page (`index.html`) |
/// | `GET /ui/console.css`, `GET /ui/console.js` | its stylesheet and script |
///
/// | `POST /ui/import-gallery?CollectionId=<id>` | a gallery file (the course `data.pt`) imported as a new collection; SigV4-signed like the Rekognition API, only with that API |
///
/// The page holds no secret: it calls the server's APIs from the browser — the
/// Rekognition-compatible API signed with the access key the user types in,
/// `POST /v1/recognize` with the bearer token, `GET /metrics` — so every call meets the same
/// checks as any other client's. Credentials stay in the tab's `sessionStorage`.
/// The content security policy allows nothing from other origins. See docs/CONSOLE.md.
public enum ConsoleRoutes {
    /// Where the page is served.
    public static let path = "/ui"

    /// Adds the console's routes to `router` (a `Router` or a group of one, at the root).
    /// With `rekognition`, the page can also upload a gallery file as a new collection
    /// (`POST /ui/import-gallery`, signed and checked like that API's calls).
    public static func addRoutes<Context: RequestContext>(to router: some RouterMethods<Context>, rekognition: RekognitionAPI? = nil,
                                                          maxGalleryBytes: Int = 256 * 1024 * 1024) {
        router.get(RouterPath(path)) { _, _ in try asset("index.html") }  // `/ui/` too: the router ignores a trailing slash
        router.get(RouterPath(path + "/:file")) { _, context in try asset(context.parameters.get("file") ?? "") }
        if let rekognition {
            let route = GalleryImportRoute(api: rekognition, maxBodyBytes: maxGalleryBytes)
            router.post(RouterPath(path + GalleryImportRoute.path)) { request, _ in await route.respond(to: request) }
        }
    }

    /// The response for one of ``ConsoleAssets/files``; 404 for any other name.
    static func asset(_ name: String) throws -> Response {
        guard let file = ConsoleAssets.files[name] else { throw HTTPError(.notFound, message: "no such file in the console") }
        var headers = HTTPFields()
        headers[.contentType] = file.contentType
        // Served from the binary: a new build is a new page, so browsers always revalidate.
        headers[.cacheControl] = "no-cache"
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPFields.Element.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: file.contents)))
    }

    /// Only this server: no CDN, font, script or connection elsewhere; photos are drawn from
    /// `blob:` decodes; the page may not be framed.
    static let contentSecurityPolicy =
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
}
