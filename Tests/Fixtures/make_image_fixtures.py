#!/usr/bin/env python3
"""Image decoding and resize fixtures, with PIL as the reference.

Run by hand (needs Pillow and numpy; reads the shared photos):

    python3 Tests/Fixtures/make_image_fixtures.py [--shared ../shared/data]

Writes Tests/Fixtures/images/:
  * small encoded variants (JPEG: baseline, progressive, greyscale, CMYK, 4:4:4, EXIF
    orientations 2..8 in both byte orders, malformed EXIF; PNG: RGB, RGBA, grey, grey+alpha,
    1/2/4-bit grey, palette (8- and 4-bit), palette+tRNS, RGB+tRNS, 16-bit RGB/RGBA/grey/
    grey+alpha, Adam7-interlaced RGB and 16-bit grey, eXIf orientation);
  * for each, the RGB pixels PIL gives (`Image.open(f).convert("RGB")`) as raw bytes
    `expected/<sha256-prefix>.rgb` (deduplicated: many variants decode to the same pixels), and
    for EXIF variants also `ImageOps.exif_transpose` of that;
  * bad inputs: a PNG and a JPEG whose headers declare huge dimensions;
  * resize goldens: PIL `Image.resize((w, h), Image.BILINEAR)` of small RGB sources (stored as
    raw bytes) to 240x240, 160x160, odd sizes, one-axis-only, identity and extreme sizes (the
    outputs as lossless PNG, to stay small);
  * manifest.json describing all of it.

Expected pixels are always PIL's output, never our decoder's.
"""
import argparse
import hashlib
import io
import json
import os
import struct
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "images")
EXPECTED = os.path.join(OUT, "expected")


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def store_rgb(im, as_png=False):
    """Stores RGB pixels named by their hash, as raw bytes, or as a lossless RGB8 PNG for the
    large resize outputs (the tests read those with the PNG decoder, whose RGB8 path is itself
    checked byte-for-byte against raw PIL pixels); returns the file name."""
    assert im.mode == "RGB"
    raw = im.tobytes()
    stem = hashlib.sha256(raw).hexdigest()[:16]
    name = stem + (".png" if as_png else ".rgb")
    path = os.path.join(EXPECTED, name)
    if not os.path.exists(path):
        if as_png:
            im.save(path, "PNG", optimize=True)
        else:
            write(path, raw)
    return name


# --- a minimal PNG writer, for variants PIL cannot write (16-bit RGB/RGBA/LA, 2/4-bit grey,
# --- Adam7 interlacing). Filter type 0 on every row.

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_rows(samples, bit_depth):
    """samples: HxWxC uint array -> list of packed row bytes (big-endian for 16-bit)."""
    h, w, c = samples.shape
    rows = []
    for y in range(h):
        row = samples[y].reshape(-1)
        if bit_depth == 16:
            rows.append(row.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(row.astype(np.uint8).tobytes())
        else:
            per_byte = 8 // bit_depth
            padded = np.zeros(((len(row) + per_byte - 1) // per_byte) * per_byte, dtype=np.uint8)
            padded[: len(row)] = row
            packed = np.zeros(len(padded) // per_byte, dtype=np.uint8)
            for i in range(per_byte):
                packed |= (padded[i::per_byte] << (8 - bit_depth * (i + 1))).astype(np.uint8)
            rows.append(packed.tobytes())
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(samples, bit_depth, color_type, interlace=False, extra_chunks=()):
    h, w = samples.shape[:2]
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            raw += b"".join(b"\x00" + r for r in pack_rows(sub, bit_depth))
    else:
        raw = b"".join(b"\x00" + r for r in pack_rows(samples, bit_depth))
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for kind, data in extra_chunks:
        out += chunk(kind, data)
    out += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return out


def tiff_orientation(value, big_endian):
    """A minimal TIFF/EXIF block: IFD0 with one entry, Orientation (SHORT)."""
    e = ">" if big_endian else "<"
    head = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    ifd = struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, value, 0) + struct.pack(e + "I", 0)
    return head + ifd


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    args = parser.parse_args()
    os.makedirs(EXPECTED, exist_ok=True)
    for name in os.listdir(EXPECTED):
        os.remove(os.path.join(EXPECTED, name))

    photo = Image.open(os.path.join(args.shared, "photos", "paul_rudd.jpg")).convert("RGB")
    # Non-square (36x48) so that orientations 5..8 visibly swap the dimensions; 36 is not a
    # multiple of the 16-pixel MCU, so partial MCUs are exercised.
    w0, h0 = photo.size
    face = photo.crop((int(w0 * 0.2), int(h0 * 0.1), int(w0 * 0.8), int(h0 * 0.9)))
    base = face.resize((36, 48), Image.LANCZOS)
    rgb = np.asarray(base)
    grey = np.asarray(base.convert("L"))
    rng = np.random.default_rng(546)
    alpha = rng.integers(0, 256, size=grey.shape, dtype=np.uint16)

    decode_cases = []  # dicts: file, expected, [oriented, orientation]

    def add(name, data, orientation=None, note=""):
        path = os.path.join(OUT, name)
        write(path, data)
        im = Image.open(path)
        mode = im.mode
        decoded = im.convert("RGB")
        case = {"file": name, "pil_mode": mode, "width": decoded.width, "height": decoded.height,
                "expected": store_rgb(decoded)}
        if note:
            case["note"] = note
        if orientation is not None:
            transposed = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
            case["orientation"] = orientation
            case["oriented_width"] = transposed.width
            case["oriented_height"] = transposed.height
            case["oriented_expected"] = store_rgb(transposed)
        decode_cases.append(case)

    def pil_save(im, fmt, **kw):
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()

    # JPEG variants
    add("baseline.jpg", pil_save(base, "JPEG", quality=90))
    add("progressive.jpg", pil_save(base, "JPEG", quality=90, progressive=True))
    add("subsampling444.jpg", pil_save(base, "JPEG", quality=95, subsampling=0))
    add("grey.jpg", pil_save(base.convert("L"), "JPEG", quality=90))
    # CMYK with real black generation so the K channel matters.
    f = rgb.astype(np.float64) / 255.0
    k = 1.0 - f.max(axis=2)
    denom = np.where(k < 1.0, 1.0 - k, 1.0)
    cmy = (1.0 - f - k[..., None]) / denom[..., None]
    cmyk = np.concatenate([cmy, k[..., None]], axis=2)
    cmyk_im = Image.fromarray(np.round(cmyk * 255).astype(np.uint8), "CMYK")
    add("cmyk.jpg", pil_save(cmyk_im, "JPEG", quality=90),
        note="PIL writes Adobe-inverted CMYK and reads every 4-component JPEG as inverted")
    for o in range(2, 9):
        add(f"exif_{o}.jpg", pil_save(base, "JPEG", quality=90,
                                      exif=b"Exif\x00\x00" + tiff_orientation(o, big_endian=False)),
            orientation=o)
    for o in (3, 6, 8):
        add(f"exif_{o}_mm.jpg", pil_save(base, "JPEG", quality=90,
                                         exif=b"Exif\x00\x00" + tiff_orientation(o, big_endian=True)),
            orientation=o)
    # IFD0 offset pointing past the end: must be ignored, not fatal.
    bad_exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 0xFFFFFF00) + b"\x00" * 8
    add("exif_malformed.jpg", pil_save(base, "JPEG", quality=90, exif=bad_exif),
        note="malformed EXIF: decodes as if it had none")

    # PNG variants PIL writes itself
    add("rgb.png", pil_save(base, "PNG"))
    add("rgba.png", pil_save(Image.fromarray(np.dstack([rgb, alpha.astype(np.uint8)]), "RGBA"), "PNG"))
    add("grey.png", pil_save(base.convert("L"), "PNG"))
    add("grey_alpha.png", pil_save(Image.fromarray(np.dstack([grey, alpha.astype(np.uint8)]), "LA"), "PNG"))
    add("grey1.png", pil_save(base.convert("1"), "PNG"))
    pal = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    add("palette.png", pil_save(pal, "PNG"))
    add("palette_trns.png", pil_save(pal, "PNG", transparency=3))
    pal16 = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    add("palette4.png", pil_save(pal16, "PNG", bits=4))
    add("rgb_trns.png", pil_save(base, "PNG", transparency=tuple(int(v) for v in rgb[0, 0])))
    add("grey_trns.png", pil_save(base.convert("L"), "PNG", transparency=int(grey[0, 0])))
    exif6 = Image.Exif()
    exif6[0x0112] = 6
    add("exif_6.png", pil_save(base, "PNG", exif=exif6.tobytes()), orientation=6)

    # PNG variants from the minimal writer. 16-bit: random low bytes, so taking the high byte
    # (PIL) and rounding (libpng's scale_16) give different answers.
    low = rng.integers(0, 256, size=rgb.shape, dtype=np.uint16)
    rgb16 = rgb.astype(np.uint16) * 256 + low
    add("rgb16.png", png_bytes(rgb16, 16, 2))
    rgba16 = np.dstack([rgb16, alpha * 257])
    add("rgba16.png", png_bytes(rgba16, 16, 6))
    grey_low = rng.integers(0, 256, size=grey.shape, dtype=np.uint16)
    add("grey_alpha16.png", png_bytes(np.dstack([grey.astype(np.uint16) * 256 + grey_low, alpha * 257]), 16, 4))
    # 16-bit grey spanning 0..1020, so both PIL's clamp (>255 -> 255) and pass-through show.
    grey16 = (grey.astype(np.uint16) * 4)[..., None]
    add("grey16.png", png_bytes(grey16, 16, 0),
        note="PIL opens 16-bit grey as I;16 and clamps to 255 on convert('RGB')")
    add("grey16_interlaced.png", png_bytes(grey16, 16, 0, interlace=True))
    add("rgb_interlaced.png", png_bytes(rgb, 8, 2, interlace=True))
    add("grey2.png", png_bytes((grey >> 6)[..., None], 2, 0))
    add("grey4.png", png_bytes((grey >> 4)[..., None], 4, 0))

    # Headers declaring huge images (100000x100000 PNG; 65500x65500 JPEG, JPEG's limit is
    # 65535): the decoder must refuse them before allocating.
    huge_png = png_bytes(rgb[:1, :1], 8, 2)
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    huge_png = huge_png[:8] + chunk(b"IHDR", ihdr) + huge_png[8 + 25:]
    write(os.path.join(OUT, "huge_header.png"), huge_png)
    jpeg = bytearray(pil_save(base, "JPEG", quality=90))
    sof = jpeg.find(b"\xff\xc0")
    assert sof > 0
    jpeg[sof + 5: sof + 9] = struct.pack(">HH", 65500, 65500)
    write(os.path.join(OUT, "huge_header.jpg"), bytes(jpeg))

    # Resize goldens: sources stored raw (exact), outputs from PIL BILINEAR.
    resize_cases = []
    face_crop_box = (9, 7, 50, 58)
    sources = {
        # a 64x64 face image (as the course pipeline sees), cropped like extract_face would
        "face_crop": Image.open(os.path.join(args.shared, "face_images_100", "test_00.jpg")).convert("RGB").crop(face_crop_box),
        # a 96x80 patch of a large photo, for downscaling
        "photo_patch": face.resize((96, 80), Image.LANCZOS),
    }
    targets = {
        "face_crop": [(240, 240), (160, 160), (41, 100), (17, 13), (1, 1), (41, 29), (41, 51)],
        "photo_patch": [(37, 23), (61, 80), (96, 33), (7, 150), (95, 79), (13, 11)],
    }
    for name, src in sources.items():
        src_file = store_rgb(src)
        for (w, h) in targets[name]:
            out = src.resize((w, h), Image.BILINEAR)
            resize_cases.append({"source": src_file, "source_width": src.width, "source_height": src.height,
                                 "width": w, "height": h, "expected": store_rgb(out, as_png=True)})

    # PIL crop semantics with boxes partly or wholly outside the image (outside is black).
    crop_cases = []
    for box in [(-5, -7, 20, 30), (30, 40, 50, 60), (-3, 10, 40, 11), (40, 50, 45, 52), (0, 0, 36, 48)]:
        crop_cases.append({"source": store_rgb(base), "source_width": base.width,
                           "source_height": base.height, "box": list(box),
                           "expected": store_rgb(base.crop(box))})

    # Patches of real shared images as PIL decodes them: our decoder on the same file must agree
    # (the JPEG tolerance applies). The face_crop source above doubles as one.
    shared_patches = [{"file": "face_images_100/test_00.jpg", "box": list(face_crop_box),
                       "expected": resize_cases[0]["source"]}]
    for rel, box in [("photos/multiface.jpg", (600, 200, 640, 240)),
                     ("photos/paul_rudd.jpg", (800, 700, 832, 740)),
                     ("face_images_100/test_42.jpg", (0, 0, 64, 64))]:
        patch = Image.open(os.path.join(args.shared, rel)).convert("RGB").crop(box)
        shared_patches.append({"file": rel, "box": list(box), "expected": store_rgb(patch)})

    manifest = {
        "generator": "Tests/Fixtures/make_image_fixtures.py",
        "pillow": PIL.__version__,
        "libjpeg_turbo": PIL.features.version("libjpeg_turbo"),
        "decode": decode_cases,
        "resize": resize_cases,
        "shared_patches": shared_patches,
        "crop": crop_cases,
        "huge": [{"file": "huge_header.png", "width": 100000, "height": 100000},
                 {"file": "huge_header.jpg", "width": 65500, "height": 65500}],
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d in (OUT, EXPECTED) for n in os.listdir(d)
                if os.path.isfile(os.path.join(d, n)))
    print(f"{len(decode_cases)} decode cases, {len(resize_cases)} resize cases, {total} bytes")


if __name__ == "__main__":
    import PIL.features  # noqa: F401  (for the version in the manifest)
    main()
