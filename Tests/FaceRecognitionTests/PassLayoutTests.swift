import Testing
@testable import FaceRecognition

@Suite("How a FaceNet call spreads a batch over its threads")
struct PassLayoutTests {
    @Test("automatic: as many passes as the images and threads share evenly, the threads split equally",
          arguments: [
              // (images, threads granted, passes, threads per pass)
              (8, 2, 2, 1), (4, 2, 2, 1), (2, 2, 2, 1), (3, 2, 1, 2), (5, 2, 1, 2), (1, 2, 1, 2),
              (6, 4, 2, 2), (8, 4, 4, 1), (2, 4, 2, 2), (9, 6, 3, 2), (7, 8, 1, 8), (5, 1, 1, 1),
          ])
    func automatic(images: Int, granted: Int, passes: Int, threads: Int) {
        let layout = PassLayout(count: images, granted: granted)
        #expect(layout == PassLayout(passes: passes, threadsPerPass: threads))
        #expect(layout.passes * layout.threadsPerPass == granted, "every granted thread works")
        #expect(images % layout.passes == 0, "every pass gets as many images")
    }

    @Test("requested: that many passes, never more than the images or the threads")
    func requested() {
        #expect(PassLayout(count: 8, granted: 4, requested: 2) == PassLayout(passes: 2, threadsPerPass: 2))
        #expect(PassLayout(count: 3, granted: 2, requested: 2) == PassLayout(passes: 2, threadsPerPass: 1))
        #expect(PassLayout(count: 2, granted: 8, requested: 16) == PassLayout(passes: 2, threadsPerPass: 4))
        #expect(PassLayout(count: 8, granted: 1, requested: 4) == PassLayout(passes: 1, threadsPerPass: 1))
        #expect(PassLayout(count: 8, granted: 4, requested: 0) == PassLayout(passes: 1, threadsPerPass: 4))
        #expect(PassLayout.threadsWanted(count: 8, requested: nil, threadsPerPass: 2) == 2)
        #expect(PassLayout.threadsWanted(count: 8, requested: 3, threadsPerPass: 2) == 6)
        #expect(PassLayout.threadsWanted(count: 2, requested: 3, threadsPerPass: 1) == 2)
    }

    @Test("the passes' images are consecutive runs covering the batch once, differing in size by at most one")
    func imagesOfEachPass() {
        for count in 1...17 {
            for passes in 1...min(count, 5) {
                let layout = PassLayout(count: count, granted: passes, requested: passes)
                let runs = (0..<layout.passes).map { layout.images(ofPass: $0, count: count) }
                #expect(runs.first?.lowerBound == 0 && runs.last?.upperBound == count)
                #expect(zip(runs, runs.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                let sizes = runs.map(\.count)
                #expect(sizes.max()! - sizes.min()! <= 1, "\(count) images in \(passes) passes: \(sizes)")
            }
        }
    }

    @Test("described as the benchmark prints it")
    func described() {
        #expect(PassLayout(count: 8, granted: 2).description(count: 8) == "2 passes of 4, 1 thread each")
        #expect(PassLayout(count: 3, granted: 2).description(count: 3) == "one pass, 2 threads")
        #expect(PassLayout(count: 1, granted: 1).description(count: 1) == "one pass, 1 thread")
        #expect(PassLayout(count: 5, granted: 4, requested: 2).description(count: 5) == "2 passes of 2–3, 2 threads each")
    }
}
