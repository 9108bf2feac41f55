#!/usr/bin/env python3
"""CFaceNet and ONNX Runtime in one process, FaceNet batch 1, alternating short blocks of passes.

compare.py runs each side in its own process for seconds at a time; on a VM whose speed drifts
by tens of per cent between minutes, the drift between two such runs can be larger than the
difference being measured. Here both run in this process: CFaceNet through its C API (the
shared library product CFaceNetShared, loaded with ctypes) and ONNX Runtime on the
facenet-pytorch model exported as reference.py does, each on 2 threads. The script alternates
blocks of `--passes` passes (which side goes first swaps every pair), drops each block's first
two passes (the other side's threads may still be spinning), and reports, per pair of blocks,
ONNX Runtime's median pass time over ours: the median and quartiles of those ratios.

    swift build -c release --product CFaceNetShared --product FaceRecBenchmarks
    python3 Benchmarks/interleaved.py [--blocks 40] [--passes 12] [--size 160]
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import onnx_session  # noqa: E402

MAX_DIMS = 8  # CFN_MAX_DIMS in cfacenet.h: TensorView mirrors cfn_tensor_view


class TensorView(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * MAX_DIMS)]


LOOKUP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(TensorView))


def read_safetensors(path):
    """name -> float32 array (C-contiguous, kept alive by the caller)."""
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_size))
        blob = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(blob, dtype=np.float32, count=(end - start) // 4,
                                      offset=start).reshape(entry["shape"])
    return tensors


class CFaceNet:
    def __init__(self, library, weights, size, threads):
        self.lib = ctypes.CDLL(library)
        self.lib.cfn_context_create.restype = ctypes.c_void_p
        self.lib.cfn_facenet_create.argtypes = [LOOKUP, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                                ctypes.c_char_p, ctypes.c_size_t]
        self.lib.cfn_context_set_threads.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.lib.cfn_facenet_embed.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                               ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
        tensors = read_safetensors(weights)

        def lookup(_user, name, out):
            array = tensors.get(name.decode())
            if array is None:
                return 0
            out.contents.data = array.ctypes.data
            out.contents.ndim = array.ndim
            for i, extent in enumerate(array.shape):
                out.contents.shape[i] = extent
            return 1

        self._lookup = LOOKUP(lookup)
        self.model = ctypes.c_void_p()
        message = ctypes.create_string_buffer(512)
        status = self.lib.cfn_facenet_create(self._lookup, None, ctypes.byref(self.model), message, 512)
        if status != 0:
            raise SystemExit(f"cfn_facenet_create failed ({status}): {message.value.decode()}")
        self.context = self.lib.cfn_context_create()
        self.lib.cfn_context_set_threads(self.context, threads)
        self.size = size
        self.images = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
        self.embedding = np.zeros((1, 512), dtype=np.float32)

    def run(self):
        status = self.lib.cfn_facenet_embed(self.model, self.context, self.images.ctypes.data, 1,
                                            self.size, self.size, self.embedding.ctypes.data)
        if status != 0:
            raise SystemExit(f"cfn_facenet_embed failed ({status})")


def block_median(run, passes):
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:]) * 1000


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.join(here, "..", ".build", "release")
    parser = argparse.ArgumentParser()
    parser.add_argument("--library", default=os.path.join(build, "libCFaceNetShared.so"))
    parser.add_argument("--benchmarks", default=os.path.join(build, "FaceRecBenchmarks"),
                        help="writes the synthetic weights when --weights is not given")
    parser.add_argument("--weights", help="FaceNet weights as safetensors (default: synthetic)")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=40, help="pairs of blocks")
    parser.add_argument("--passes", type=int, default=12, help="passes per block (the first 2 dropped)")
    args = parser.parse_args()
    if args.passes < 3:
        parser.error("--passes must be at least 3")

    import torch
    from facenet_pytorch import InceptionResnetV1
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if not weights:
            weights = os.path.join(tmp, "facenet.safetensors")
            subprocess.run([args.benchmarks, "synthetic-weights", "--out", weights], check=True)
        ours = CFaceNet(os.path.abspath(args.library), weights, args.size, args.threads)
        session = onnx_session(InceptionResnetV1(pretrained=None, classify=False).eval(), tmp,
                               args.threads)
    x = np.random.default_rng(1).standard_normal((1, 3, args.size, args.size)).astype(np.float32)

    def reference():
        session.run(None, {"x": x})

    for run in (ours.run, reference):
        for _ in range(5):
            run()
    ratios, our_ms, ort_ms = [], [], []
    for pair in range(args.blocks):
        if pair % 2 == 0:
            mine, theirs = block_median(ours.run, args.passes), block_median(reference, args.passes)
        else:
            theirs, mine = block_median(reference, args.passes), block_median(ours.run, args.passes)
        our_ms.append(mine)
        ort_ms.append(theirs)
        ratios.append(theirs / mine)
        print(f"pair {pair + 1:3d}: ours {mine:6.2f} ms, onnxruntime {theirs:6.2f} ms, "
              f"{theirs / mine:.3f}x", flush=True)
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    print(f"{args.size}x{args.size} b1, {args.blocks} pairs of {args.passes}-pass blocks: ours median "
          f"{statistics.median(our_ms):.2f} ms, onnxruntime {statistics.median(ort_ms):.2f} ms; "
          f"onnxruntime / ours per pair: median {median:.3f}x (quartiles {q1:.3f}-{q3:.3f}), "
          f"{sum(r >= 1 for r in ratios)} of {len(ratios)} pairs >= 1")


if __name__ == "__main__":
    main()
