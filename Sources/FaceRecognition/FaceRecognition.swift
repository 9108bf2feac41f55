// FaceRecognition: image decoding, weights loading, MTCNN detection, FaceNet embeddings,
// galleries and matching. The networks run in CFaceNet (C on OpenBLAS).
