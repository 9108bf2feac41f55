import FaceRecognition
import Foundation

/// Every face of a photo, named against a gallery; the weights found by the default lookup.
func recognizeSamplePhoto() async {
    do {
        let recognizer = FaceRecognizer(
            detector: try MTCNN(options: MTCNNOptions(keepAll: true)),   // every face, largest first
            facenet: try FaceNet(),
            gallery: try Gallery.load(contentsOf: URL(fileURLWithPath: "SampleData/data.pt")),
            options: .recommended)                                      // farther than 1.1: "Unknown"

        let image = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: "SampleData/photos/multiface.jpg"))
        let faces = try await recognizer.recognize(image)               // on the library's compute threads
        for face in faces {
            print(face.match?.name ?? FaceRecognizer.unknownLabel, face.face.box.array)
        }

        let encoder = JSONEncoder()
        encoder.userInfo[.omitsEmbeddings] = true                       // keep the 512 numbers out
        print(String(decoding: try encoder.encode(faces), as: UTF8.self))
    } catch {
        print("cannot recognize:", error.localizedDescription)
    }
}

await recognizeSamplePhoto()

// Errors say what is wrong in plain words, e.g. a weights folder that does not exist:
do {
    _ = try MTCNN(weightsDirectory: URL(fileURLWithPath: "/nonexistent/weights"))
} catch {
    print(error.localizedDescription)
}
