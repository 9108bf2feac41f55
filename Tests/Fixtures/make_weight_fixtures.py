#!/usr/bin/env python3
"""Writes the small checkpoints and goldens the Swift weights tests read (Tests/Fixtures/weights/).

Ground truth is torch itself: every expected value below is what torch.load / torch tensors hold,
printed as float32 (the dtype the Swift loader produces). Run from anywhere:

    python3 Tests/Fixtures/make_weight_fixtures.py [--shared-data ../shared/data]

Needs torch and facenet-pytorch; `safetensors` (pip install safetensors) for the interop fixture.
"""
import argparse
import collections
import hashlib
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "weights")


def f32(values):
    """Tensor -> flat list of Python floats holding exactly the float32 values."""
    return [float(v) for v in np.asarray(values.detach().to(torch.float32).reshape(-1).numpy(), dtype=np.float32)]


def mixed_state_dict():
    """A state dict exercising every storage case the loader must handle."""
    torch.manual_seed(0)
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.randn(2, 3, 2, 2)
    sd["conv.bias"] = torch.tensor([0.5, -1.25])
    sd["f64"] = torch.tensor([[1.0 / 3.0, -2.5e-8], [1e30, 7.0], [0.1, -0.2]], dtype=torch.float64)
    sd["f16"] = torch.tensor([0.0, -1.5, 65504.0, 6.1e-5, 3.0e-7], dtype=torch.float16)  # incl. subnormal
    sd["bf16"] = torch.tensor([1.0, -3.140625, 1e20, -0.0078125], dtype=torch.bfloat16)
    sd["i64"] = torch.tensor([-3, 0, 123456789], dtype=torch.int64)
    sd["i32"] = torch.tensor([7, -8], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["flags"] = torch.tensor([True, False, True])
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3.0
    sd["transposed"] = base.t()                 # stride (1, 6): non-contiguous
    sd["sliced"] = base[1:, 2:5]                # storage offset 8, stride (6, 1)
    sd["strided"] = base[::2, ::3]              # stride (12, 3)
    sd["shared_a"] = base[0]                    # same storage as the three above
    sd["expanded"] = torch.tensor([1.0, 2.0, 3.0]).expand(2, 3)  # stride (0, 1)
    sd["scalar"] = torch.tensor(2.75)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.tensor([[4.0, 5.0]]))
    sd["bn.num_batches_tracked"] = torch.tensor(17)  # dropped by WeightsLoader
    return sd


def describe(sd):
    return {k: {"shape": list(v.shape), "values": f32(v), "dtype": str(v.dtype).replace("torch.", "")}
            for k, v in sd.items()}


def nested_checkpoint(sd):
    return {
        "epoch": 3,
        "state_dict": sd,
        "meta": {"list": [1, 2.5, "x", (True, None)], "bytes": b"\x00\x01\xff", "big": 2 ** 70,
                 "neg": -5, "unicode": "Gesicht \u00e9\u00df"},
    }


def write_torch_fixtures(expected):
    sd = mixed_state_dict()
    torch.save(sd, os.path.join(OUT, "mixed_zip.pt"))
    torch.save(sd, os.path.join(OUT, "mixed_legacy.pt"), _use_new_zipfile_serialization=False)
    nested = nested_checkpoint(collections.OrderedDict(list(sd.items())[:3]))
    torch.save(nested, os.path.join(OUT, "nested_zip.pt"))
    torch.save(nested, os.path.join(OUT, "nested_legacy.pt"), _use_new_zipfile_serialization=False)
    # A list at the top (like data.pt), legacy format.
    torch.save([torch.tensor([1.0, 2.0]), ["a", "b"]], os.path.join(OUT, "list_legacy.pt"),
               _use_new_zipfile_serialization=False)
    # Archive records under a name other than "archive/": torch uses the file stem.
    with open(os.path.join(OUT, "renamed_prefix.pt"), "wb") as handle:
        torch.save({"w": torch.tensor([9.0, -9.0])}, handle)
    expected["mixed"] = describe(sd)
    # The loader must reproduce what torch.load returns, not just what was saved.
    for name in ("mixed_zip.pt", "mixed_legacy.pt"):
        reloaded = torch.load(os.path.join(OUT, name), weights_only=False)
        assert describe(reloaded) == expected["mixed"], name


def rewrite_zip(source, target, transform):
    """Copies a torch zip checkpoint entry by entry, letting `transform(name, data)` return
    (new_data, compress_type)."""
    import zipfile
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data, compression = transform(info.filename, src.read(info.filename))
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0)), data,
                         compress_type=compression)


def write_zip_variants(expected):
    """Zip checkpoints torch can read but does not usually write: big-endian storages (the
    `byteorder` record says "big"), and deflated entries (which this loader rejects)."""
    import zipfile
    sd = collections.OrderedDict([
        ("f32", torch.tensor([1.5, -2.25, 3.0e-3])),
        ("f64", torch.tensor([1.0 / 3.0, -1e10], dtype=torch.float64)),
        ("i64", torch.tensor([-2, 1 << 40], dtype=torch.int64)),
        ("f16", torch.tensor([0.5, -6.0e-5], dtype=torch.float16)),
    ])
    little = os.path.join(OUT, "little.tmp.pt")
    torch.save(sd, little)
    widths = {"0": 4, "1": 8, "2": 8, "3": 2}  # storage keys follow pickling order

    def to_big(name, data):
        if name.endswith("/byteorder"):
            return b"big", zipfile.ZIP_STORED
        key = name.rsplit("/", 1)[-1]
        if "/data/" in name and key in widths:
            width = widths[key]
            data = b"".join(data[i:i + width][::-1] for i in range(0, len(data), width))
        return data, zipfile.ZIP_STORED

    big = os.path.join(OUT, "bigendian_zip.pt")
    rewrite_zip(little, big, to_big)
    reloaded = torch.load(big, weights_only=False)
    assert all(torch.equal(reloaded[k], v) for k, v in sd.items()), "torch disagrees with the big-endian fixture"
    expected["bigendian"] = describe(sd)

    # Zip64: every central-directory entry carries its sizes and offset in the zip64 extra field,
    # and the classic end record is saturated so readers must follow the zip64 locator.
    saved = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        zip64 = os.path.join(OUT, "zip64.pt")
        rewrite_zip(little, zip64, lambda name, data: (data, zipfile.ZIP_STORED))
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved
    with open(zip64, "rb") as handle:
        raw = bytearray(handle.read())
    end = raw.rfind(b"PK\x05\x06")
    raw[end + 8:end + 12] = b"\xff" * 4   # entry counts
    raw[end + 12:end + 20] = b"\xff" * 8  # directory size and offset
    with open(zip64, "wb") as handle:
        handle.write(raw)
    reloaded = torch.load(zip64, weights_only=False)
    assert all(torch.equal(reloaded[k], v) for k, v in sd.items()), "torch disagrees with the zip64 fixture"

    rewrite_zip(little, os.path.join(OUT, "deflated_zip.pt"),
                lambda name, data: (data, zipfile.ZIP_DEFLATED if "/data/" in name else zipfile.ZIP_STORED))
    os.remove(little)


def write_safetensors_fixture(expected):
    try:
        from safetensors.torch import save_file
    except ImportError:
        print("safetensors not installed: skipping safetensors_python.safetensors")
        return
    tensors = {
        "a.f32": torch.tensor([[1.5, -2.0, 3.25]], dtype=torch.float32),
        "b.f16": torch.tensor([0.5, -65504.0, 6.0e-8], dtype=torch.float16),
        "c.bf16": torch.tensor([2.0, -0.33203125], dtype=torch.bfloat16),
        "d.f64": torch.tensor([[1.0 / 7.0], [1e-40]], dtype=torch.float64),
        "e.empty": torch.zeros(2, 0),
    }
    save_file(tensors, os.path.join(OUT, "python.safetensors"), metadata={"format": "pt", "source": "fixture"})
    expected["safetensors_python"] = {
        "tensors": {k: {"shape": list(v.shape), "values": f32(v)} for k, v in tensors.items()},
        "metadata": {"format": "pt", "source": "fixture"},
    }


def data_pt_goldens(shared, expected):
    path = os.path.join(shared, "data.pt")
    embeddings, names = torch.load(path, weights_only=False)
    expected["data_pt"] = {
        "count": len(embeddings),
        "names": list(names),
        "shape": list(embeddings[0].shape),
        # Exact float32 elements at a few positions, and float64 sums of every tensor.
        "first4": {str(i): f32(embeddings[i][0, :4]) for i in (0, 1, 45, 89)},
        "last": {str(i): float(embeddings[i][0, -1]) for i in (0, 89)},
        "sums": [float(e.double().sum()) for e in embeddings],
        "norms": [float(e.double().norm()) for e in embeddings],
    }


def mtcnn_goldens(expected):
    import facenet_pytorch
    data = os.path.join(os.path.dirname(facenet_pytorch.__file__), "data")
    nets = {}
    for net in ("pnet", "rnet", "onet"):
        path = os.path.join(data, net + ".pt")
        sd = torch.load(path, weights_only=False)
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        nets[net] = {
            "sha256": digest,
            "tensors": {k: {"shape": list(v.shape), "sum": float(v.double().sum()), "first": f32(v.reshape(-1)[:3])}
                        for k, v in sd.items()},
        }
    expected["mtcnn"] = nets


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared-data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    expected = {"torch_version": torch.__version__}
    write_torch_fixtures(expected)
    write_zip_variants(expected)
    write_safetensors_fixture(expected)
    data_pt_goldens(args.shared_data, expected)
    mtcnn_goldens(expected)
    with open(os.path.join(OUT, "expected.json"), "w") as handle:
        json.dump(expected, handle, indent=1, sort_keys=True)
        handle.write("\n")
    for net, info in expected["mtcnn"].items():
        print(f"{net}.pt sha256 {info['sha256']}")
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
