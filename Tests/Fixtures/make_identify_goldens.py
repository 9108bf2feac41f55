#!/usr/bin/env python3
"""Goldens for the end-to-end agreement test: the course's exact pipeline in facenet-pytorch,
with the deterministic synthetic FaceNet weights of make_facenet_goldens.py (the real vggface2
weights cannot be downloaded here).

    python3 Tests/Fixtures/make_identify_goldens.py [--data ../shared/data]

For every image of face_images_1000: MTCNN(image_size=240, margin=0, min_face_size=20) → the
largest face → InceptionResnetV1 (synthetic weights) → the nearest entry of data.pt by torch.dist.
Writes Tests/Fixtures/identify/face_images_1000_synthetic.csv with Image,Results,Distance,Margin
(Margin = second-best distance minus best: a disagreement is only acceptable where it is < 1e-5).
Byte-identical images give identical results, so each distinct file is computed once.
"""
import argparse
import hashlib
import json
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_facenet_goldens as facenet_goldens  # noqa: E402
from facenet_pytorch import MTCNN  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(blob[a:b], dtype="<f4").reshape(info["shape"]).copy())
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = facenet_goldens.build_model()
    stats = read_safetensors(os.path.join(HERE, "facenet", "bn_statistics.safetensors"))
    state = model.state_dict()
    for name, tensor in stats.items():
        state[name].copy_(tensor)
    model.eval()
    mtcnn = MTCNN(image_size=240, margin=0, min_face_size=20)  # post_process=True, as the course
    embeddings, names = torch.load(os.path.join(args.data, "data.pt"))

    folder = os.path.join(args.data, "face_images_1000")
    cache, rows = {}, []
    for file in sorted(os.listdir(folder)):
        data = open(os.path.join(folder, file), "rb").read()
        key = hashlib.sha256(data).hexdigest()
        if key not in cache:
            img = Image.open(os.path.join(folder, file))
            face, prob = mtcnn(img, return_prob=True)
            if face is None:
                cache[key] = ("", float("nan"), float("nan"))
            else:
                with torch.no_grad():
                    emb = model(face.unsqueeze(0)).detach()
                dist = [torch.dist(emb, e).item() for e in embeddings]
                order = np.argsort(dist)
                cache[key] = (names[order[0]], dist[order[0]], dist[order[1]] - dist[order[0]])
        name, best, margin = cache[key]
        rows.append(f"{os.path.splitext(file)[0]},{name},{best:.7f},{margin:.7f}")
    os.makedirs(os.path.join(HERE, "identify"), exist_ok=True)
    with open(os.path.join(HERE, "identify", "face_images_1000_synthetic.csv"), "w") as f:
        f.write("Image,Results,Distance,Margin\n" + "\n".join(rows) + "\n")
    print(f"{len(rows)} images, {len(cache)} distinct; names: {sorted(set(r.split(',')[1] for r in rows))}")


if __name__ == "__main__":
    main()
