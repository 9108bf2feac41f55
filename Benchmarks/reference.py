#!/usr/bin/env python3
"""Reference timings for the FaceNet benchmark: facenet-pytorch eager and ONNX Runtime (the model
exported with torch.onnx), both on 2 threads, at the shapes FaceRecBenchmarks uses. Prints one
JSON object per line; Benchmarks/compare.py runs this and the Swift suite in one go.

    python3 Benchmarks/reference.py [--seconds 3] [--sizes 160,240] [--batches 1,8]
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np
import torch
from facenet_pytorch import InceptionResnetV1

SHAPES = [(160, 1), (160, 8), (240, 1), (240, 8)]


def timed(run, seconds):
    run()  # warm-up
    passes, start = 0, time.perf_counter()
    while True:
        run()
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and passes >= 3:
            return elapsed / passes


def onnx_session(model, directory, threads):
    """An ONNX Runtime session (CPU, `threads` intra-op threads) on `model` exported to ONNX in
    `directory`, with the batch and spatial sizes dynamic. Also used by interleaved.py."""
    import onnxruntime as ort
    path = os.path.join(directory, "facenet.onnx")
    torch.onnx.export(model, torch.randn(1, 3, 160, 160), path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}, opset_version=17, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="160,240", help="comma-separated input sizes")
    parser.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    args = parser.parse_args()
    sizes = [int(v) for v in args.sizes.split(",")]
    batches = {int(v) for v in args.batches.split(",")}
    shapes = [(size, batch) for size, batch in SHAPES if size in sizes and batch in batches]
    torch.set_num_threads(args.threads)
    model = InceptionResnetV1(pretrained=None, classify=False).eval()

    for size, batch in shapes:
        x = torch.randn(batch, 3, size, size)
        with torch.no_grad():
            per_pass = timed(lambda: model(x), args.seconds)
        print(json.dumps({"suite": "facenet", "impl": "pytorch-eager", "size": size, "batch": batch,
                          "ms_per_face": per_pass * 1000 / batch}), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        session = onnx_session(model, tmp, args.threads)
        for size, batch in shapes:
            x = np.random.randn(batch, 3, size, size).astype(np.float32)
            per_pass = timed(lambda: session.run(None, {"x": x}), args.seconds)
            print(json.dumps({"suite": "facenet", "impl": "onnxruntime", "size": size, "batch": batch,
                              "ms_per_face": per_pass * 1000 / batch}), flush=True)


if __name__ == "__main__":
    main()
