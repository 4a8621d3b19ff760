#!/usr/bin/env python3
"""Write the seed corpora of the io fuzz targets (idx, gzip, pgm, png).

    make_io_corpus.py OUTDIR      -> OUTDIR/idx, OUTDIR/gzip, OUTDIR/pgm, OUTDIR/png

Deterministic (gzip mtime 0), standard library only. The committed seeds
are fuzz/corpus/; regenerate them with `fuzz/make_io_corpus.py fuzz/corpus`.
Valid files of each kind, plus a few one mutation away from valid
(truncated, wrong sizes, trailing data, out-of-range palette, no IEND).
"""
import gzip
import os
import struct
import sys
import zlib


def idx(dims, data=None):
    n = 1
    for d in dims:
        n *= d
    if data is None:
        data = bytes((i * 37) & 0xFF for i in range(n))
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx_seeds():
    images = idx([2, 4, 4])
    return {
        "images": images,
        "labels": idx([5], bytes([1, 2, 3, 4, 9])),
        "matrix": idx([3, 5]),
        "empty": idx([0, 28, 28]),
        "images_gz": gz(images),
        "labels_gz": gz(idx([3], b"\x07\x00\x01")),
        "two_members": gz(images[:12]) + gz(images[12:]),
        "bad_truncated": images[:-3],
        "bad_too_long": images + b"\x00",
        "bad_type": bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + b"\x00" * 4,
        "bad_gz_trailing": gz(images) + b"junk",
        "bad_gz_twice": gz(gz(images)),
    }


def gzip_seeds():
    # the fuzz target reads byte 0 as its chunk-size pattern
    text = b"minitensor " * 40
    return {
        "one": b"\x55" + gz(text),
        "two": b"\xff" + gz(text[:100]) + gz(text[100:]),
        "empty": b"\x00" + gz(b""),
        "stored": b"\x0f" + gzip.compress(text, compresslevel=0, mtime=0),
        "zeros": b"\xaa" + gz(bytes(20000)),
        "truncated": b"\x33" + gz(text)[:-5],
        "trailing": b"\x01" + gz(text) + b"\x1f",
    }


def pgm_seeds():
    px = bytes((i * 9) & 0xFF for i in range(12))
    return {
        "p5": b"P5\n# comment\n4 3\n255\n" + px,
        "p5_16bit": b"P5 2 2 65535\n" + bytes(range(8)),
        "p2": b"P2 3 2 15\n0 1 2\n# row\n13 14 15\n",
        "p2_spaces": b"P2\t2 1\r\n255 \v 7\f8",
        "p5_maxval_small": b"P5 2 1 3\n\x00\x03",
        "bad_truncated": b"P5 4 4 255\n" + px,
        "bad_above_maxval": b"P2 2 1 9\n3 10",
        "bad_header": b"P5 4\n",
    }


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, depth, colour, rows, palette=None, trns=None, iend=True,
        interlace=0):
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0,
                                      interlace))
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette))
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    out += chunk(b"IDAT", zlib.compress(rows, 9))
    if iend:
        out += chunk(b"IEND", b"")
    return out


def png_seeds():
    gray = b"".join(b"\x00" + bytes((x * 60 + y * 20) & 0xFF for x in range(4))
                    for y in range(4))
    rgb = b"".join(b"\x01" + bytes((x * 50 + c * 30) & 0xFF for x in range(3) for c in range(3))
                   for y in range(3))
    rgba = b"".join(b"\x02" + bytes((x * 40 + c) & 0xFF for x in range(2) for c in range(4))
                    for y in range(2))
    pal = [0, 0, 0, 128, 128, 128, 255, 255, 255]
    indexed = b"".join(b"\x00" + bytes((x + y) % 3 for x in range(4)) for y in range(4))
    bits2 = b"".join(b"\x00" + bytes([0b00011000]) for _ in range(3))   # 4 px, 2 bits
    return {
        "gray8": png(4, 4, 8, 0, gray),
        "gray16": png(2, 1, 16, 0, b"\x00\x12\x34\xff\xff"),
        "gray1": png(8, 2, 1, 0, b"\x00\xaa\x00\x55"),
        "rgb8": png(3, 3, 8, 2, rgb),
        "rgba8": png(2, 2, 8, 6, rgba),
        "gray_alpha": png(2, 1, 8, 4, b"\x00\x10\x80\xf0\x00"),
        "palette8": png(4, 4, 8, 3, indexed, pal),
        "palette_trns": png(4, 4, 8, 3, indexed, pal, trns=[0, 128]),
        "palette2": png(4, 3, 2, 3, bits2, pal),
        "interlaced": png(4, 4, 8, 0, b"".join(
            b"\x00" + bytes(4) for _ in range(4)) + bytes(40), interlace=1),
        "bad_palette_index": png(4, 4, 8, 3, b"".join(
            b"\x00" + bytes([0, 1, 2, 9]) for _ in range(4)), pal),
        "bad_no_iend": png(4, 4, 8, 0, gray, iend=False),
        "bad_short_idat": png(4, 4, 8, 0, gray[:-6]),
    }


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    total = 0
    for target, seeds in (("idx", idx_seeds()), ("gzip", gzip_seeds()),
                          ("pgm", pgm_seeds()), ("png", png_seeds())):
        d = os.path.join(sys.argv[1], target)
        os.makedirs(d, exist_ok=True)
        for name, blob in sorted(seeds.items()):
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(blob)
        total += len(seeds)
    print(f"make_io_corpus.py: {total} seeds in {sys.argv[1]}/{{idx,gzip,pgm,png}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
