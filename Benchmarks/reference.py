#!/usr/bin/env python3
"""Reference timings for the FaceNet benchmark: facenet-pytorch eager, ONNX Runtime and OpenVINO
(both on the model exported with torch.onnx), all on 2 threads, fp32, at the shapes
FaceRecBenchmarks uses. Prints one JSON object per line; Benchmarks/compare.py runs this and the
Swift suite in one go.

    pip install onnxruntime openvino   # either may be missing: its rows are then left out
    python3 Benchmarks/reference.py [--seconds 3] [--sizes 160,240] [--batches 1,8]
        [--impls pytorch-eager,onnxruntime,openvino]
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
    path = export_onnx(model, directory)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def export_onnx(model, directory):
    """`model` exported to `directory`/facenet.onnx, batch and spatial sizes dynamic."""
    path = os.path.join(directory, "facenet.onnx")
    if not os.path.exists(path):
        torch.onnx.export(model, torch.randn(1, 3, 160, 160), path, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}, opset_version=17, dynamo=False)
    return path


def openvino_runner(onnx_path, batch, size, threads):
    """A function running OpenVINO's CPU plugin on the ONNX export, reshaped to (batch, 3, size,
    size) and compiled for that shape (OpenVINO's usual static-shape deployment), fp32 (the CPU
    plugin would otherwise pick bf16 on CPUs with AMX), `threads` inference threads, one stream,
    latency hint. Also used by interleaved.py."""
    import openvino as ov
    core = ov.Core()
    model = core.read_model(onnx_path)
    model.reshape({"x": [batch, 3, size, size]})
    compiled = core.compile_model(model, "CPU", {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "f32",
    })
    request = compiled.create_infer_request()
    return lambda x: request.infer({"x": x})


def available(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="160,240", help="comma-separated input sizes")
    parser.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    parser.add_argument("--impls", default="pytorch-eager,onnxruntime,openvino",
                        help="comma-separated implementations to time")
    args = parser.parse_args()
    impls = set(args.impls.split(","))
    sizes = [int(v) for v in args.sizes.split(",")]
    batches = {int(v) for v in args.batches.split(",")}
    shapes = [(size, batch) for size, batch in SHAPES if size in sizes and batch in batches]
    torch.set_num_threads(args.threads)
    model = InceptionResnetV1(pretrained=None, classify=False).eval()

    def report(impl, size, batch, per_pass, **extra):
        print(json.dumps({"suite": "facenet", "impl": impl, "size": size, "batch": batch,
                          "ms_per_face": per_pass * 1000 / batch, **extra}), flush=True)

    if "pytorch-eager" in impls:
        for size, batch in shapes:
            x = torch.randn(batch, 3, size, size)
            with torch.no_grad():
                per_pass = timed(lambda: model(x), args.seconds)
            report("pytorch-eager", size, batch, per_pass, version=torch.__version__)

    with tempfile.TemporaryDirectory() as tmp:
        if "onnxruntime" in impls and available("onnxruntime"):
            import onnxruntime
            session = onnx_session(model, tmp, args.threads)
            for size, batch in shapes:
                x = np.random.randn(batch, 3, size, size).astype(np.float32)
                per_pass = timed(lambda: session.run(None, {"x": x}), args.seconds)
                report("onnxruntime", size, batch, per_pass, version=onnxruntime.__version__)
        if "openvino" in impls and available("openvino"):
            import openvino
            path = export_onnx(model, tmp)
            for size, batch in shapes:
                infer = openvino_runner(path, batch, size, args.threads)
                x = np.random.randn(batch, 3, size, size).astype(np.float32)
                per_pass = timed(lambda: infer(x), args.seconds)
                report("openvino", size, batch, per_pass, version=openvino.__version__.split("-")[0])


if __name__ == "__main__":
    main()
