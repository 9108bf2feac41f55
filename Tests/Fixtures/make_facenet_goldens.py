#!/usr/bin/env python3
"""Goldens for the FaceNet parity test, made with facenet-pytorch (the ground truth).

Run by hand where torch and facenet-pytorch are installed (CI never runs it):

    python3 Tests/Fixtures/make_facenet_goldens.py [--data ../shared/data]

It fills facenet-pytorch's InceptionResnetV1 with deterministic synthetic weights that the Swift
side rebuilds bit for bit (`SyntheticFaceNetWeights`):

* every parameter comes from a splitmix64 stream seeded by the FNV-1a hash of its state_dict key:
  element i is mix64(seed + (i + 1) * 0x9E3779B97F4A7C15); its top 24 bits give u in [-1, 1)
  exactly representable as float32, and the value is float32(u) * float32(bound) with
    conv / linear weights: bound = sqrt(6 / fan_in)          (He-uniform)
    residual conv2d.bias:  bound = 0.05
    BatchNorm weight:      1 + 0.25 u    (computed in float32)
    BatchNorm bias:        0.1 u
* BatchNorm running statistics would be meaningless if random (every face would collapse onto the
  same embedding), so they are calibrated on real face crops: one training-mode forward pass with
  cumulative averaging records each layer's batch mean and variance. They are committed in
  `facenet/bn_statistics.safetensors` (small) and loaded by the Swift test.

Outputs (under Tests/Fixtures/facenet/):
    bn_statistics.safetensors   running_mean / running_var of every BatchNorm
    crops/<size>_<i>.png         the real face crops fed to the network (MTCNN crops of shared data)
    goldens.json                 embeddings per case, plus per-stage summaries to debug with
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image

from facenet_pytorch import MTCNN, InceptionResnetV1

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "facenet")
MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & MASK64
    return h


def splitmix_uniforms(seed, count):
    """u in [-1, 1) as float32: the top 24 bits of mix64(seed + (i + 1) * GAMMA)."""
    with np.errstate(over="ignore"):
        i = np.arange(1, count + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    top = (z >> np.uint64(40)).astype(np.float64)  # 24 bits
    return (top * (2.0 ** -23) - 1.0).astype(np.float32)  # exact


def synthetic_tensor(name, shape):
    count = int(np.prod(shape))
    u = splitmix_uniforms(fnv1a64(name), count)
    if name.endswith("bn.weight") or name == "last_bn.weight":
        values = np.float32(1.0) + np.float32(0.25) * u
    elif name.endswith("bn.bias") or name == "last_bn.bias":
        values = np.float32(0.1) * u
    elif name.endswith("conv2d.bias"):
        values = np.float32(0.05) * u
    elif name.endswith(".weight"):
        fan_in = count // shape[0]
        values = u * np.float32(math.sqrt(6.0 / fan_in))
    else:
        raise ValueError(f"no synthetic rule for {name}")
    return torch.from_numpy(values.reshape(shape).astype(np.float32))


def is_running_stat(name):
    return name.endswith("running_mean") or name.endswith("running_var") or name.endswith("num_batches_tracked")


def build_model():
    model = InceptionResnetV1(pretrained=None, classify=False).eval()
    state = model.state_dict()
    for name, tensor in state.items():
        if not is_running_stat(name):
            tensor.copy_(synthetic_tensor(name, tuple(tensor.shape)))
    return model


def face_crops(mtcnn, paths):
    crops = []
    for path in paths:
        img = Image.open(path).convert("RGB")
        face = mtcnn(img)
        if face is None:
            continue
        crops.append(face.permute(1, 2, 0).round().clamp(0, 255).byte().numpy())
    return crops


def standardise(crops):
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
    return (x - 127.5) / 128.0


def calibrate(model, batch):
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: one pass records the batch statistics
    model.train()
    model.dropout.eval()
    with torch.no_grad():
        model(batch)
    model.eval()
    stats = {}
    for name, tensor in model.state_dict().items():
        if name.endswith("running_mean") or name.endswith("running_var"):
            stats[name] = tensor.detach().numpy().astype(np.float32)
    return stats


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"generator": "Tests/Fixtures/make_facenet_goldens.py"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def stage_summaries(model, x):
    stages = ["conv2d_4b", "repeat_1", "mixed_6a", "repeat_2", "mixed_7a", "repeat_3", "block8", "last_bn"]
    summaries, hooks = {}, []
    for name in stages:
        def hook(_module, _inputs, output, name=name):
            first = output[0].flatten()
            summaries[name] = {"shape": list(output.shape), "mean": float(output.mean()), "std": float(output.std()),
                               "first": [float(v) for v in first[:4]]}
        hooks.append(getattr(model, name).register_forward_hook(hook))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return summaries


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    os.makedirs(os.path.join(OUT, "crops"), exist_ok=True)

    faces_dir = os.path.join(args.data, "face_images_1000")
    labels = dict(line.strip().split(",") for line in open(os.path.join(args.data, "face_images_1000.csv")) if not line.startswith("Image"))
    names = sorted(os.listdir(faces_dir))
    # face_images_1000 repeats ten distinct photos; calibrate on every distinct face (the course
    # images and the faces of photos/), each with several margins and mirrored, so the statistics
    # see real variety.
    distinct, hashes = [], set()
    for n in names:
        digest = hashlib.sha256(open(os.path.join(faces_dir, n), "rb").read()).hexdigest()
        if digest not in hashes:
            hashes.add(digest)
            distinct.append(n)
    photos_dir = os.path.join(args.data, "photos")
    calib_images = [Image.open(os.path.join(faces_dir, n)).convert("RGB") for n in distinct]
    calib_images += [Image.open(os.path.join(photos_dir, n)).convert("RGB") for n in sorted(os.listdir(photos_dir))]
    calib = []
    for margin in (0, 12, 24, 40):
        detector = MTCNN(image_size=160, margin=margin, min_face_size=20, keep_all=True, post_process=False)
        for img in calib_images:
            for flipped in (False, True):
                faces = detector(img.transpose(Image.FLIP_LEFT_RIGHT) if flipped else img)
                if faces is not None:
                    calib += [f.permute(1, 2, 0).round().clamp(0, 255).byte().numpy() for f in faces]
    print("calibration crops:", len(calib))
    mtcnn160 = MTCNN(image_size=160, margin=0, min_face_size=20, post_process=False)
    mtcnn240 = MTCNN(image_size=240, margin=0, min_face_size=20, post_process=False)

    model = build_model()
    stats = calibrate(model, standardise(calib))
    write_safetensors(os.path.join(OUT, "bn_statistics.safetensors"), stats)

    # Test inputs: four different people (by the course labels), plus a portrait photo.
    chosen, seen = [], set()
    for n in names:
        label = labels.get(os.path.splitext(n)[0])
        if label and label not in seen and n in distinct:
            seen.add(label)
            chosen.append((n, label))
        if len(chosen) == 4:
            break
    paths = [os.path.join(faces_dir, n) for n, _ in chosen]

    goldens = {"images": [{"source": f"face_images_1000/{n}", "label": l} for n, l in chosen], "cases": []}
    for size, mtcnn in ((160, mtcnn160), (240, mtcnn240)):
        crops = face_crops(mtcnn, paths)
        assert len(crops) == 4, "every chosen image must have a face"
        files = []
        for i, crop in enumerate(crops):
            name = f"crops/{size}_{i}.png"
            Image.fromarray(crop).save(os.path.join(OUT, name))
            files.append(name)
        x = standardise(crops)
        with torch.no_grad():
            batch4 = model(x)
            batch1 = model(x[:1])
        goldens["cases"].append({"height": size, "width": size, "inputs": files, "embeddings": batch4.tolist()})
        goldens["cases"].append({"height": size, "width": size, "inputs": files[:1], "embeddings": batch1.tolist()})
        if size == 160:
            goldens["stages_160_image0"] = stage_summaries(model, x[:1])
            # A non-square, smaller input: the 160 crops resized by PIL to 96 wide × 112 high.
            small = [np.asarray(Image.fromarray(c).resize((96, 112), Image.BILINEAR)) for c in crops[:2]]
            small_files = []
            for i, crop in enumerate(small):
                name = f"crops/96x112_{i}.png"
                Image.fromarray(crop).save(os.path.join(OUT, name))
                small_files.append(name)
            with torch.no_grad():
                e = model(standardise(small))
            goldens["cases"].append({"height": 112, "width": 96, "inputs": small_files, "embeddings": e.tolist()})

    e160 = torch.tensor(goldens["cases"][0]["embeddings"])
    cos = e160 @ e160.T
    goldens["max_cross_person_cosine_160"] = float(cos[~torch.eye(4, dtype=bool)].max())
    print("max cosine between different people at 160:", goldens["max_cross_person_cosine_160"])
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(goldens, f)
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
