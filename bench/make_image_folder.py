#!/usr/bin/env python3
"""Writes COUNT PNG images of SIZE x SIZE pixels into ROOT/<class>/ for the image-folder
benchmark (bench/data_scale.sh): two classes, "clear" and "spotted", RGB noise around a
class-dependent level with bright spots in the second, so that a model can learn them.
Standard library only (zlib, struct); the same COUNT, SIZE and seed give the same files.
Usage: make_image_folder.py ROOT COUNT SIZE"""
import os
import random
import struct
import sys
import zlib


def png_bytes(width, height, rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


def image_rows(rng, size, spotted):
    level = 150 if spotted else 110
    spots = [(rng.randrange(size), rng.randrange(size)) for _ in range(6)] if spotted else []
    radius = max(2, size // 24)
    # One row of noise reused with a per-row shift keeps generation fast in pure Python.
    noise = bytes(min(255, max(0, level + rng.randrange(-20, 21))) for _ in range(size * 3 * 2))
    rows = []
    for y in range(size):
        shift = rng.randrange(size) * 3
        row = bytearray(noise[shift:shift + size * 3])
        for sx, sy in spots:
            if abs(y - sy) <= radius:
                for x in range(max(0, sx - radius), min(size, sx + radius + 1)):
                    row[3 * x:3 * x + 3] = b"\xf0\xe6\xdc"
        rows.append(bytes(row))
    return rows


def main():
    root, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(0)
    for name in ("clear", "spotted"):
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for i in range(count):
        spotted = i % 2 == 1
        path = os.path.join(root, "spotted" if spotted else "clear", f"{i:06d}.png")
        with open(path, "wb") as out:
            out.write(png_bytes(size, size, image_rows(rng, size, spotted)))


if __name__ == "__main__":
    main()
