import Foundation
import Testing

@testable import FaceRecognition

/// Runs python3 with a script and a JSON input file; its standard output parsed as JSON.
enum PythonReference {
    /// Whether python3 can import scikit-learn and scipy (the references of these tests).
    static let available: Bool = {
        (try? run("import sklearn, scipy\nprint('{}')", input: [:])) != nil
    }()

    static func run(_ script: String, input: Any) throws -> [String: Any] {
        let dir = try CLITests.scratch("python")
        defer { try? FileManager.default.removeItem(at: dir) }
        let inputFile = dir.appendingPathComponent("input.json"), scriptFile = dir.appendingPathComponent("check.py")
        try JSONSerialization.data(withJSONObject: input).write(to: inputFile)
        try Data(script.utf8).write(to: scriptFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scriptFile.path, inputFile.path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        _ = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileReadUnknown) }
        return try #require(try JSONSerialization.jsonObject(with: stdout) as? [String: Any])
    }
}

/// `facerec calibrate` on the sample faces and their course labels, its ROC, AUC and EER checked
/// against scikit-learn's `roc_curve` / `roc_auc_score` on the distances it exports.
@Suite("facerec calibrate", .ownThreads)
struct CLICalibrateTests {
    static let folder = TestPaths.data("face_images_100")
    static let csv = TestPaths.data("face_images_100.csv")
    static let first48 = (0..<48).map { folder.appendingPathComponent(String(format: "test_%02d.jpg", $0)).path }

    static let sklearnCheck = """
        import json, sys
        import numpy as np
        from sklearn.metrics import roc_curve, roc_auc_score
        data = json.load(open(sys.argv[1]))
        g = np.array(data["genuine"], dtype=np.float64); i = np.array(data["impostor"], dtype=np.float64)
        y = np.concatenate([np.ones(len(g)), np.zeros(len(i))]); d = np.concatenate([g, i])
        fpr, tpr, thr = roc_curve(y, -d, drop_intermediate=False)
        fnr = 1 - tpr
        k = int(np.argmax(fpr >= fnr))
        before, after = fnr[k - 1] - fpr[k - 1], fnr[k] - fpr[k]
        a = before / (before - after)
        eer = fpr[k - 1] + a * (fpr[k] - fpr[k - 1])
        d0 = -thr[k] if k == 1 else -thr[k - 1]
        eer_threshold = d0 + a * (-thr[k] - d0)
        rates = [{"far": float(np.mean(i <= t)), "frr": float(np.mean(g > t))} for t in data["at"]]
        print(json.dumps({"fpr": fpr[1:].tolist(), "tpr": tpr[1:].tolist(), "thresholds": (-thr[1:]).tolist(),
                          "auc": roc_auc_score(y, -d), "eer": eer, "eer_threshold": eer_threshold, "rates": rates}))
        """

    @Test("ROC, AUC, EER and FAR/FRR agree with scikit-learn on the exported distances; plot and gallery written",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs the MTCNN weights"),
          .enabled(if: PythonReference.available, "needs python3 with scikit-learn and scipy (pip install scikit-learn)"))
    func againstScikitLearn() throws {
        let dir = try CLITests.scratch("calibrate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let plot = dir.appendingPathComponent("roc.png")
        let out = dir.appendingPathComponent("calibrated.safetensors")
        let before = try Data(contentsOf: GalleryTests.coursePT)
        let result = try CLITests.run(["calibrate", "--json", "--distances", "--labels", Self.csv.path, "--weights", (try CLITests.weightsFile).path,
                                       "--at", "0.5,1.0", "--plot", plot.path, "--gallery", GalleryTests.coursePT.path, "--out", out.path]
                                      + (try CLITests.mtcnnArguments()) + Self.first48)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let genuine = try #require(report["genuine"] as? [Double]), impostor = try #require(report["impostor"] as? [Double])

        // Pair counts from the labels of the faces found.
        let faces = try #require(report["faces"] as? Int)
        #expect(faces >= 45)
        #expect(genuine.count + impostor.count == faces * (faces - 1) / 2)
        #expect(report["genuine_pairs"] as? Int == genuine.count)

        let rates = try #require(report["rates"] as? [[String: Double]])
        let thresholds = rates.map { $0["threshold"]! }
        let reference = try PythonReference.run(Self.sklearnCheck, input: ["genuine": genuine, "impostor": impostor, "at": thresholds])
        let roc = try #require(report["roc"] as? [String: [Double]])
        #expect(roc["threshold"]! == reference["thresholds"] as! [Double])
        #expect(zip(roc["far"]!, reference["fpr"] as! [Double]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(zip(roc["tpr"]!, reference["tpr"] as! [Double]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(roc["far"]!.count == (reference["fpr"] as! [Double]).count)
        #expect(abs((report["auc"] as! Double) - (reference["auc"] as! Double)) < 1e-9)
        #expect(abs((report["eer"] as! Double) - (reference["eer"] as! Double)) < 1e-9)
        #expect(abs((report["eer_threshold"] as! Double) - (reference["eer_threshold"] as! Double)) < 1e-5)
        for (mine, theirs) in zip(rates, reference["rates"] as! [[String: Double]]) {
            #expect(abs(mine["far"]! - theirs["far"]!) < 1e-12 && abs(mine["frr"]! - theirs["frr"]!) < 1e-12)
        }
        #expect(thresholds.contains(1.1) && thresholds.contains(0.5) && thresholds.contains(1.0))
        let suggested = try #require(report["suggested_threshold"] as? Double)
        #expect(suggested == report["eer_threshold"] as? Double)

        // The plot: the ROC and both histograms are drawn.
        let image = try ImageDecoder.decode(contentsOf: plot)
        #expect(image.width == 960 && image.height == 420)
        var colours = Set<[UInt8]>()
        for y in 0..<image.height { for x in 0..<image.width { let p = image[x, y]; colours.insert([p.r, p.g, p.b]) } }
        #expect(colours.isSuperset(of: [[40, 160, 60], [220, 60, 50], [30, 90, 220], [0, 0, 0]]))
        // Written labels: the grid values under the ROC panel and the titles above both panels
        // (the panels' frames and bars lie between y 30 and 390 only).
        func inked(_ xs: Range<Int>, _ ys: Range<Int>) -> Bool { ys.contains { y in xs.contains { x in image[x, y].r < 100 } } }
        #expect(inked(30..<410, 393..<402), "no grid values under the ROC")
        #expect(inked(40..<400, 8..<22), "no ROC title")
        #expect(inked(440..<940, 8..<22), "no histogram legend")

        // The threshold went into a new gallery; the torch data.pt is untouched.
        let written = try Gallery.load(contentsOf: out)
        #expect(written.threshold == DistanceThreshold(Float(suggested), metric: .euclidean))
        #expect(written.count == 90)
        #expect(try Data(contentsOf: GalleryTests.coursePT) == before)
    }

    @Test("labels from people/NAME folders give the same pairs as the CSV; refusals and too few faces",
          .enabled(if: MTCNNTestSupport.weightsDirectory != nil, "needs the MTCNN weights"))
    func folderLabels() throws {
        let dir = try CLITests.scratch("people")
        defer { try? FileManager.default.removeItem(at: dir) }
        var labels: [String: String] = [:]
        for line in try String(contentsOf: Self.csv, encoding: .utf8).split(whereSeparator: \.isNewline).dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            labels[f[0]] = f[1]
        }
        let stems = (0..<24).map { String(format: "test_%02d", $0) }
        for stem in stems {
            let folder = dir.appendingPathComponent("people/\(labels[stem]!)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Self.folder.appendingPathComponent("\(stem).jpg"), to: folder.appendingPathComponent("\(stem).jpg"))
        }
        let base = ["calibrate", "--json", "--distances", "--weights", (try CLITests.weightsFile).path] + (try CLITests.mtcnnArguments())
        let byFolder = try CLITests.run(base + [dir.appendingPathComponent("people").path])
        let byCSV = try CLITests.run(base + ["--labels", Self.csv.path] + stems.map { Self.folder.appendingPathComponent("\($0).jpg").path })
        #expect(byFolder.status == 0 && byCSV.status == 0, "\(byFolder.stderr) \(byCSV.stderr)")
        let a = try #require(try JSONSerialization.jsonObject(with: Data(byFolder.stdout.utf8)) as? [String: Any])
        let b = try #require(try JSONSerialization.jsonObject(with: Data(byCSV.stdout.utf8)) as? [String: Any])
        // The same pairs, at the same distances up to float rounding: the two runs batch the
        // faces in different orders, and an embedding's last bits depend on its batch position
        // in the optimised kernels. The lists are sorted, so a pair missing on one side or a
        // real change of distance still shows at its index.
        for key in ["genuine", "impostor"] {
            let byFolderDistances = try #require(a[key] as? [Double])
            let byCSVDistances = try #require(b[key] as? [Double])
            #expect(byFolderDistances.count == byCSVDistances.count, "\(key) pairs")
            let worst = zip(byFolderDistances, byCSVDistances).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5, "\(key) distances differ by up to \(worst)")
        }
        #expect(a["names"] as? Int == Set(stems.map { labels[$0]! }).count)

        // The text report.
        let text = try CLITests.run(["calibrate", "--weights", (try CLITests.weightsFile).path] + (try CLITests.mtcnnArguments())
                                    + [dir.appendingPathComponent("people").path])
        #expect(text.status == 0)
        #expect(text.stdout.contains("EER: ") && text.stdout.contains("(vggface2 default)"), "\(text.stdout)")

        // data.pt is never rewritten; one person alone cannot be calibrated.
        let refused = try CLITests.run(["calibrate", "--weights", (try CLITests.weightsFile).path, "--gallery", GalleryTests.coursePT.path]
                                       + (try CLITests.mtcnnArguments()) + [dir.appendingPathComponent("people").path])
        #expect(refused.status == 5)
        #expect(refused.stderr.contains("never rewrites torch files"), "\(refused.stderr)")
        let one = try CLITests.run(["calibrate", "--weights", (try CLITests.weightsFile).path] + (try CLITests.mtcnnArguments())
                                   + [Self.folder.appendingPathComponent("test_00.jpg").path])
        #expect(one.status == 1)
        #expect(one.stderr.hasPrefix("facerec: calibration needs two faces of one person"), "\(one.stderr)")
    }
}
