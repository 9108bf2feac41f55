import FaceRecognitionService
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The console's static routes: what is served, with which headers, and that the page is
/// self-contained (every byte from this server).
@Suite("Console routes")
struct ConsoleRoutesTests {
    static let assetsDirectory = ServiceFixtures.packageRoot.appendingPathComponent("Sources/FaceRecognitionService/Console/Assets")

    @Test("ConsoleAssets.swift is the files under Console/Assets, byte for byte (run Console/Assets/generate-swift.py)")
    func assetsAreCurrent() throws {
        #expect(ConsoleAssets.files.count == 3)
        for (name, file) in ConsoleAssets.files {
            let onDisk = try String(contentsOf: Self.assetsDirectory.appendingPathComponent(name), encoding: .utf8)
            #expect(onDisk == file.contents, "\(name) differs from ConsoleAssets")
        }
    }

    @Test("the page loads nothing from elsewhere and stays under 1,500 lines of its own code")
    func selfContained() {
        var lines = 0
        for (name, file) in ConsoleAssets.files {
            for foreign in ["http://", "https://", "//cdn", "@import", "fonts.g"] {
                #expect(!file.contents.contains(foreign), "\(name) mentions \(foreign)")
            }
            lines += file.contents.split(separator: "\n", omittingEmptySubsequences: false).count
        }
        #expect(lines < 1500)
    }

    @Test("GET /ui, /ui/ and the assets are served with their types and a same-origin-only policy; anything else is 404")
    func routes() async throws {
        let router = Router()
        ConsoleRoutes.addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            for (path, type) in [("/ui", "text/html"), ("/ui/", "text/html"), ("/ui/index.html", "text/html"),
                                 ("/ui/console.js", "text/javascript"), ("/ui/console.css", "text/css")] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
                    #expect(response.headers[.xContentTypeOptions] == "nosniff")
                }
            }
            try await client.execute(uri: "/ui", method: .get) { response in
                #expect(String(buffer: response.body) == ConsoleAssets.indexHTML)
            }
            for path in ["/ui/missing.js", "/ui/%2e%2e%2fPackage.swift", "/ui/../Package.swift", "/ui/generate-swift.py"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .notFound, "\(path)")
                }
            }
            try await client.execute(uri: "/ui/console.js", method: .post) { response in
                #expect(response.status != .ok)
            }
        }
    }
}
