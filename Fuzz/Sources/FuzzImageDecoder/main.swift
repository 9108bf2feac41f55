import FaceRecognition
import Foundation
import FuzzDriver

// JPEG and PNG decoding through the public wrapper: the C shim over libjpeg/libpng (its
// setjmp error paths, the pixel limit, every colour mode), the EXIF (TIFF) parser for JPEG
// APP1 and PNG eXIf, and the orientation transform. A 4-megapixel limit keeps each input
// cheap while still reaching the header check; the limit itself is exercised because fuzzed
// headers easily declare more.
runFuzzer { start, count in
    let data = fuzzData(start, count)
    let options = DecodeOptions(applyEXIFOrientation: true, maxPixels: 4_000_000)
    if let decoded = try? ImageDecoder.decodeWithMetadata(data, options: options) {
        // A decode that succeeds must describe a consistent image.
        precondition(decoded.image.pixels.count == decoded.image.width * decoded.image.height * 3,
                     "pixel buffer does not match \(decoded.image.width)x\(decoded.image.height)")
    }
    return 0
}
