#!/usr/bin/env python3
"""Goldens for the MTCNN port, produced by facenet-pytorch itself (the ground truth).

Writes Tests/Fixtures/mtcnn/:
  detections.json  per image: size, every face MTCNN(image_size=240, margin=0,
                   min_face_size=20, keep_all=True).detect(..., landmarks=True) returns (boxes,
                   probs, landmarks in its order: largest first), the face that forward() selects
                   (keep_all=False), and for a subset the name of the 240x240 crop PNG plus a
                   few values of the standardised tensor.
  crop_*.png       extract_face's 240x240 crops (uint8, before fixed_image_standardization).
  nets.json        P-Net, R-Net and O-Net outputs on deterministic inputs (formula below).
  ops.json         tiny torch goldens for PReLU, Softmax(dim=1), MaxPool2d(ceil_mode=True) and
                   the R-Net style permute(0, 3, 2, 1) + Linear.

Images are opened as the reference pipeline does: PIL open + convert('RGB'), EXIF ignored.
Run from the package root:  python3 Tests/Fixtures/make_mtcnn_goldens.py [shared-data-dir]
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from facenet_pytorch import MTCNN
from facenet_pytorch.models.mtcnn import fixed_image_standardization
from facenet_pytorch.models.utils.detect_face import extract_face

torch.set_num_threads(2)
ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "mtcnn")
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "..", "..", "shared", "data")
DATA = os.path.abspath(DATA)

# Crops are stored for these images only (keeps the fixtures small).
CROP_IMAGES = {
    "face_images_100/test_00.jpg", "face_images_100/test_17.jpg", "face_images_100/test_42.jpg",
    "face_images_1000/test_000.jpg", "face_images_1000/test_123.jpg",
    "photos/multiface.jpg", "photos/paul_rudd.jpg", "photos/kate_siegel.jpg",
}


def image_list():
    names = []
    names += ["face_images_100/" + f for f in sorted(os.listdir(os.path.join(DATA, "face_images_100"))) if f.endswith(".jpg")]
    thousand = sorted(f for f in os.listdir(os.path.join(DATA, "face_images_1000")) if f.endswith(".jpg"))
    names += ["face_images_1000/" + f for f in thousand[::3][:300]]
    names += ["photos/" + f for f in sorted(os.listdir(os.path.join(DATA, "photos"))) if f.endswith(".jpg")]
    return names


def rounded(a, digits=4):
    return [round(float(v), digits) for v in np.asarray(a).reshape(-1)]


def detect_all(mtcnn, img):
    boxes, probs, points = mtcnn.detect(img, landmarks=True)
    if boxes is None:
        return [], None
    faces = []
    for b, p, pts in zip(boxes, probs, points):
        faces.append({"box": rounded(b), "prob": round(float(p), 6),
                      "landmarks": [rounded(q) for q in pts]})
    sel_box, sel_prob, _ = mtcnn.select_boxes(boxes, probs, points, img, method=mtcnn.selection_method)
    selected = None
    if sel_box is not None:
        for i, b in enumerate(boxes):
            if np.array_equal(b, sel_box[0]):
                selected = i
                break
    return faces, (selected, sel_box[0] if sel_box is not None else None)


def main():
    os.makedirs(OUT, exist_ok=True)
    mtcnn = MTCNN(image_size=240, margin=0, min_face_size=20, keep_all=True)
    single = MTCNN(image_size=240, margin=0, min_face_size=20)  # forward(): the selected face
    records = []
    for name in image_list():
        img = Image.open(os.path.join(DATA, name)).convert("RGB")
        faces, sel = detect_all(mtcnn, img)
        rec = {"image": name, "width": img.width, "height": img.height, "faces": faces,
               "selected": sel[0] if sel else None}
        if sel and sel[1] is not None:
            face = extract_face(img, sel[1], 240, 0)  # float tensor 3x240x240 of uint8 values
            crop = face.permute(1, 2, 0).numpy().astype(np.uint8)
            rec["crop_sha256"] = hashlib.sha256(crop.tobytes()).hexdigest()
            tensor = single(img)  # forward(): standardised crop of the selected face
            assert torch.equal(tensor, fixed_image_standardization(face)), name
            rec["standardised_head"] = rounded(tensor.reshape(-1)[:8], 7)
            rec["standardised_mean"] = round(float(tensor.mean()), 7)
            if name in CROP_IMAGES:
                png = "crop_" + name.replace("/", "_").replace(".jpg", ".png")
                Image.fromarray(crop).save(os.path.join(OUT, png), optimize=True)
                rec["crop_png"] = png
        records.append(rec)
        print(name, len(faces), flush=True)

    # Images without a face: flat colours the test rebuilds itself.
    for w, h, rgb in [(320, 240, (128, 128, 128)), (64, 64, (255, 255, 255)), (500, 300, (20, 90, 200))]:
        img = Image.new("RGB", (w, h), rgb)
        faces, _ = detect_all(mtcnn, img)
        records.append({"synthetic_flat": list(rgb), "width": w, "height": h, "faces": faces,
                        "selected": None})

    with open(os.path.join(OUT, "detections.json"), "w") as f:
        json.dump(records, f, separators=(",", ":"))
        f.write("\n")

    write_net_goldens(mtcnn)
    write_op_goldens()


def formula_input(n, size, seed):
    """x[i, c, y, x] = ((i*31 + c*7 + y*13 + x*29 + seed) % 255 - 127.5) * 0.0078125."""
    i = np.arange(n).reshape(n, 1, 1, 1)
    c = np.arange(3).reshape(1, 3, 1, 1)
    y = np.arange(size[0]).reshape(1, 1, size[0], 1)
    x = np.arange(size[1]).reshape(1, 1, 1, size[1])
    v = (i * 31 + c * 7 + y * 13 + x * 29 + seed) % 255
    return torch.tensor(((v - 127.5) * 0.0078125).astype(np.float32))


def write_net_goldens(mtcnn):
    out = {}
    with torch.no_grad():
        x = formula_input(2, (17, 23), 5)
        reg, prob = mtcnn.pnet(x)
        out["pnet"] = {"n": 2, "h": 17, "w": 23, "seed": 5, "reg_shape": list(reg.shape),
                       "reg": rounded(reg, 6), "prob": rounded(prob, 6)}
        x = formula_input(3, (24, 24), 11)
        reg, prob = mtcnn.rnet(x)
        out["rnet"] = {"n": 3, "seed": 11, "reg": rounded(reg, 6), "prob": rounded(prob, 6)}
        x = formula_input(2, (48, 48), 3)
        reg, landmarks, prob = mtcnn.onet(x)
        out["onet"] = {"n": 2, "seed": 3, "reg": rounded(reg, 6), "landmarks": rounded(landmarks, 6),
                       "prob": rounded(prob, 6)}
    with open(os.path.join(OUT, "nets.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


def write_op_goldens():
    g = torch.Generator().manual_seed(1234)
    out = {}
    with torch.no_grad():
        # PReLU over 3 channels, batch 2, 2x3 planes (NCHW).
        x = torch.randn(2, 3, 2, 3, generator=g)
        prelu = torch.nn.PReLU(3)
        prelu.weight.copy_(torch.tensor([0.25, -0.5, 1.5]))
        out["prelu"] = {"input": rounded(x, 7), "weight": rounded(prelu.weight, 7),
                        "output": rounded(prelu(x), 7)}
        # Softmax over 2 channels (dim=1), batch 2, 2x2 planes, one large logit gap.
        x = torch.randn(2, 2, 2, 2, generator=g) * 4
        x[0, 0, 0, 0] = 30.0
        out["softmax"] = {"input": rounded(x, 7), "output": rounded(torch.softmax(x, dim=1), 7)}
        # MaxPool2d ceil_mode=True: kernel 3 stride 2 on 7x10, kernel 2 stride 2 on 5x5.
        x = torch.randn(1, 2, 7, 10, generator=g)
        y = torch.nn.functional.max_pool2d(x, 3, 2, ceil_mode=True)
        x2 = torch.randn(1, 1, 5, 5, generator=g)
        y2 = torch.nn.functional.max_pool2d(x2, 2, 2, ceil_mode=True)
        out["maxpool"] = {"a": {"input": rounded(x, 7), "c": 2, "h": 7, "w": 10, "kernel": 3,
                                "stride": 2, "out_shape": list(y.shape[2:]), "output": rounded(y, 7)},
                          "b": {"input": rounded(x2, 7), "c": 1, "h": 5, "w": 5, "kernel": 2,
                                "stride": 2, "out_shape": list(y2.shape[2:]), "output": rounded(y2, 7)}}
        # R-Net style flatten: x (N, C, H, W) permuted (0, 3, 2, 1) then Linear(C*H*W -> 5).
        x = torch.randn(2, 4, 3, 2, generator=g)
        lin = torch.nn.Linear(4 * 3 * 2, 5)
        lin.weight.copy_(torch.randn(5, 24, generator=g))
        lin.bias.copy_(torch.randn(5, generator=g))
        y = lin(x.permute(0, 3, 2, 1).contiguous().view(2, -1))
        out["linear_permuted"] = {"input": rounded(x, 7), "n": 2, "c": 4, "h": 3, "w": 2,
                                  "weight": rounded(lin.weight, 7), "bias": rounded(lin.bias, 7),
                                  "output": rounded(y, 6)}
    with open(os.path.join(OUT, "ops.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
