import CloudPipelineTestSupport
import Foundation
import Testing

/// The web console in a real browser: `facerec-server` on a free port with a fresh data
/// directory, headless Chromium driven by Selenium (Tests/Fixtures/console/console_browser.py):
/// access asked once, a multi-face photo recognised, people enrolled from photos and found in
/// another, the threshold slider, a non-image's error, renames and deletions seen by the API,
/// the service view, a 360 px wide window. Screenshots go to .build/test-artefacts/console/.
@Suite("Console in a browser", .serialized)
struct ConsoleBrowserTests {
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    /// Chromium, its driver and Selenium (scripts/install-deps.sh --with-test-tools installs them).
    static let browserAvailable: Bool = {
        guard FileManager.default.isExecutableFile(atPath: chromium), FileManager.default.isExecutableFile(atPath: chromedriver) else {
            return false
        }
        return ServiceFixtures.pythonCanImport("selenium", "boto3")
    }()

    static let artefacts = ServiceFixtures.packageRoot.appendingPathComponent(".build/test-artefacts/console")

    @Test("recognise, enrol, find, threshold, errors, rename and delete, service view, 360 px — in headless Chromium",
          .enabled(if: browserAvailable, "needs chromium, chromium-driver and python3 selenium + boto3 (scripts/install-deps.sh --with-test-tools)"))
    func consoleInChromium() async throws {
        let directory = try LocalTestDirectory.make("console")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (keyId, secret, token) = ("AKIDCONSOLE", "console-secret-\(UUID().uuidString)", "console-token-\(UUID().uuidString)")
        var environment = ProcessInfo.processInfo.environment
        environment["FACEREC_ACCESS_KEY_ID"] = keyId
        environment["FACEREC_SECRET_ACCESS_KEY"] = secret
        environment["FACEREC_API_TOKEN"] = token
        let server = try ChildProcess(ServiceFixtures.binaries.appendingPathComponent("facerec-server"),
                                      ["--port", "0", "--data-dir", directory.path, "--no-workers",
                                       "--weights", ServiceFixtures.weightsFile.path, "--gallery", ServiceFixtures.gallery.path,
                                       "--mtcnn-weights", ServiceFixtures.mtcnnDirectory.path],
                                      environment: environment, stderr: directory.appendingPathComponent("server.log"))
        defer {
            // Stopped whatever happened above.
            if server.process.isRunning { server.signal(SIGKILL); server.process.waitUntilExit() }
        }
        let line = try #require(await server.waitForLine { $0.contains("listening on") },
                                "the server did not start: \((try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? "")")
        let url = try #require(listeningURL(line))

        try FileManager.default.createDirectory(at: Self.artefacts, withIntermediateDirectories: true)
        let output = directory.appendingPathComponent("browser.out")
        let status = try await runProcess("/usr/bin/env", [
            "python3", ServiceFixtures.packageRoot.appendingPathComponent("Tests/Fixtures/console/console_browser.py").path,
            "--url", url.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")),
            "--key-id", keyId, "--secret", secret, "--token", token,
            "--samples", ServiceFixtures.packageRoot.appendingPathComponent("SampleData").path,
            "--artefacts", Self.artefacts.path,
            "--readme-shot", Self.artefacts.appendingPathComponent("console-multiface.jpg").path,
            "--chromium", Self.chromium, "--chromedriver", Self.chromedriver,
        ], environment: ProcessInfo.processInfo.environment, stdout: output)
        let report = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        print(report)
        print("console screenshots: \(Self.artefacts.path)")
        #expect(status == 0, "the browser script failed:\n\(report)")
        for check in ["asked for credentials once", "data.pt imported through the page", "multiface.jpg against the gallery", "multiface.jpg in the course collection", "a text file (collection)", "a text file (gallery)", "a WebP photo", "signed without crypto.subtle", "group photo is refused", "enrolled from three photos",
                      "the fourth photo is Emily", "labels the match Unknown", "renamed Gerry to Gerard", "service:", "at 360 px"] {
            #expect(report.contains(check), "no '\(check)' line in:\n\(report)")
        }
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
    }
}
