#!/usr/bin/env python3
"""Writes the generated seeds of tests/fuzz/corpus/ (python3's standard library and a C
compiler with libjpeg only). Seeds for the experiment target are the repository's own
experiment files, which scripts/fuzz passes as further corpus folders; inputs that once
crashed a target are kept next to these seeds under a crash-* name and never regenerated
(this script writes no crash-* file)."""
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def npy(dtype, shape, raw, fortran=False, version=1):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        dtype, fortran, "".join("%d," % d for d in shape) if len(shape) != 1 else "%d," % shape[0])
    size_field = 2 if version == 1 else 4
    pad = (64 - (10 + size_field - 2 + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode("latin1") + raw


def npz(arrays, compression):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in arrays:  # a fixed time stamp: the same seeds on every run
            z.writestr(zipfile.ZipInfo(name + ".npy", date_time=(2026, 1, 1, 0, 0, 0)), data, compression)
    return out.getvalue()


def png(width, height, color_type, depth, rows, palette=None):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


JPEG_WRITER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
/* jpeg_writer FILE WIDTH HEIGHT COMPONENTS PROGRESSIVE: a gradient image */
int main(int argc, char** argv) {
  struct jpeg_compress_struct c; struct jpeg_error_mgr e;
  int w = atoi(argv[2]), h = atoi(argv[3]), n = atoi(argv[4]);
  FILE* f = fopen(argv[1], "wb");
  c.err = jpeg_std_error(&e); jpeg_create_compress(&c); jpeg_stdio_dest(&c, f);
  c.image_width = w; c.image_height = h; c.input_components = n; c.in_color_space = n == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c); jpeg_set_quality(&c, 50, TRUE);
  if (atoi(argv[5])) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  unsigned char row[3 * 64];
  while (c.next_scanline < c.image_height) {
    for (int x = 0; x < w * n; ++x) row[x] = (unsigned char)(x * 7 + c.next_scanline * 13);
    JSAMPROW r = row; jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c); fclose(f); return 0;
}
"""

SHARED_LIBRARY = r"""
__attribute__((visibility("default"))) int medadv_plugin_v1(void) { return 1; }
__attribute__((visibility("default"))) int helper_weak(void) __attribute__((weak));
int helper_weak(void) { return 2; }
static int hidden_one(void) { return 3; }
int (*keep)(void) = hidden_one;
"""


# No C runtime and no page-aligned segments: a library of about 1 kB, not 14 kB, is
# quicker to mutate.
SMALL = ["-nostdlib", "-Wl,-z,noseparate-code", "-Wl,-z,max-page-size=0x10", "-Wl,--hash-style=gnu"]


def compiled(workdir, source, name, args, link):
    src = os.path.join(workdir, name + ".c")
    with open(src, "w") as f:
        f.write(source)
    binary = os.path.join(workdir, name)
    subprocess.run(["cc", "-O1", "-o", binary, src] + args + link, check=True)
    return binary


def main():
    # experiments beyond those of experiments/ and tests/data/experiments/: the smallest
    # valid one, and one using the host's less common keys
    put("experiment", "minimal.toml", '[experiment]\nname = "m"\n[dataset]\nplugin = "phantom-fundus"\n'
        '[model]\nplugin = "small-cnn"\n[[attack]]\nplugin = "fgsm"\n')
    put("experiment", "less_common.toml",
        '[experiment]\nname = "l"\nseed = 7\ndevice = "cpu"\nthreads = 1\ncuda_math = "fast"\nbatch_size = 8\n'
        'attack_adv_train = false\nplugin_path = ["plugins"]\n'
        '[dataset]\nplugin = "phantom-xray"\ntask = "segmentation"\ncount = 20\n'
        'splits = { train = 0.5, adv_train = 0.25, adv_test = 0.25 }\n'
        '[model]\nplugin = "unet"\nbase_width = 2\n[model.train]\nepochs = 1\n'
        '[[attack]]\nlabel = "PGD-Dice"\nplugin = "pgd"\nloss = "dice"\nepsilon = ["1/255", 0.01]\nsteps = 2\n'
        '[[attack]]\nplugin = "fgsm"\ntargeted = true\n[[attack.add]]\nplugin = "feature-stress"\n'
        '[[detector]]\nplugin = "kd"\n'
        '[report]\nexport = ["npz"]\ntables = [{ rows = "attack", cols = "epsilon_text", metrics = ["dice"] }]\n')

    # --set assignments, one per line
    put("set_override", "nested", "model.train.epochs=2\nexperiment.device=cpu\n")
    put("set_override", "arrays", "attack[1].epsilon=\"4/255\"\nattack[0].epsilon=[\"1/255\", 0.5]\n")
    put("set_override", "tables", "dataset.splits={ train = 0.5, adv_train = 0.25, adv_test = 0.25 }\nnew.key.path=true\n")
    put("set_override", "bad", "noequals\n=3\nattack[9].steps=1\nexperiment.name.x=1\n")

    # npz: stored and deflated, dtypes, Fortran order, format versions 1 and 2
    images = bytes(range(2 * 3 * 4 * 4))
    labels = struct.pack("<2q", 0, 1)
    put("npz", "medmnist_like.npz", npz([("train_images", npy("|u1", (2, 4, 4, 3), images[:96])),
                                          ("train_labels", npy("<i8", (2, 1), labels))], zipfile.ZIP_STORED))
    put("npz", "deflated.npz", npz([("x", npy("<f4", (2, 3), struct.pack("<6f", *range(6)))),
                                    ("mask", npy("|b1", (4,), b"\x00\x01\x01\x00"))], zipfile.ZIP_DEFLATED))
    put("npz", "fortran_v2.npz", npz([("y", npy("<f8", (2, 2), struct.pack("<4d", 1, 2, 3, 4), fortran=True, version=2)),
                                      ("s", npy("<i2", (3,), struct.pack("<3h", -1, 0, 1)))], zipfile.ZIP_STORED))

    # PNG: gray, gray+alpha, RGB, RGBA, palette, 16-bit gray, 1-bit gray
    put("png", "gray8.png", png(4, 3, 0, 8, [bytes([0, 85, 170, 255])] * 3))
    put("png", "gray_alpha8.png", png(2, 2, 4, 8, [bytes([10, 255, 200, 128])] * 2))
    put("png", "rgb8.png", png(3, 2, 2, 8, [bytes(range(9)), bytes(range(100, 109))]))
    put("png", "rgba8.png", png(2, 2, 6, 8, [bytes(range(8)), bytes(range(50, 58))]))
    put("png", "palette.png", png(4, 2, 3, 8, [bytes([0, 1, 2, 1])] * 2, palette=bytes([0, 0, 0, 255, 0, 0, 0, 0, 255])))
    put("png", "gray16.png", png(2, 2, 0, 16, [struct.pack(">2H", 0, 65535), struct.pack(">2H", 1000, 40000)]))
    put("png", "gray1.png", png(8, 2, 0, 1, [b"\xa5", b"\x5a"]))

    # results.jsonl, as the engine writes it (one object per trial), and a torn last line
    trial = {"trial": "attack[0]/fgsm/eps=2/255", "kind": "attack", "hash": "9f2c4e1a7b3d5f60",
             "attack": "FGSM", "epsilon": 0.00784313725490196, "epsilon_text": "2/255",
             "clean_accuracy": 0.875, "robust_accuracy": 0.5, "attack_success_rate": 0.4285714285714286,
             "seconds": 1.25, "nested": {"list": [1, 2.5, None, True, "x"]}}
    detector = {"trial": "detector[0]/kd", "kind": "detector", "hash": "0a1b2c3d4e5f6789", "detector": "KD",
                "auroc": 0.91, "samples": None}
    lines = [json.dumps(trial, separators=(",", ":")), json.dumps(detector, separators=(",", ":"))]
    for target in ("results_log", "run_data"):
        put(target, "two_trials.jsonl", "\n".join(lines) + "\n")
        put(target, "torn_last_line.jsonl", lines[0] + "\n" + lines[1][:40])
        put(target, "resumed.jsonl", lines[0] + "\n\n" + lines[0].replace("0.5", "0.25") + "\n")

    with tempfile.TemporaryDirectory() as workdir:
        writer = compiled(workdir, JPEG_WRITER, "jpeg_writer", [], ["-ljpeg"])
        for name, w, h, n, progressive in (("gray", 8, 8, 1, 0), ("rgb", 16, 8, 3, 0), ("rgb_progressive", 9, 7, 3, 1)):
            out = os.path.join(workdir, name + ".jpg")
            subprocess.run([writer, out, str(w), str(h), str(n), str(progressive)], check=True)
            with open(out, "rb") as f:
                put("jpeg", name + ".jpg", f.read())
        for name, args in (("plugin_like.so", ["-shared", "-fPIC", "-fvisibility=hidden"] + SMALL),
                           ("stripped.so", ["-shared", "-fPIC", "-s"] + SMALL)):
            with open(compiled(workdir, SHARED_LIBRARY, name, args, []), "rb") as f:
                put("elf_symbols", name, f.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
