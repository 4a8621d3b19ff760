#!/usr/bin/env python3
"""Regenerate the small image files in this folder (python3 standard library only).

Digits come from the committed MNIST test set (examples/mnist/data, see
examples/mnist/train/README.md); digit i has label i % 10. TensorFlow
classifies all of the ones used here correctly.

  seven.pgm           test digit 7, P5 (binary), white on black
  three-ascii.pgm     test digit 3, P2 (text) with comments
  four-16bit.pgm      test digit 4, P5 with maxval 65535 (2 bytes per pixel)
  two-inverted.png    test digit 2, 8-bit gray, black on white (mnist predict --invert)
  nine-rgb.png        test digit 9, 8-bit RGB, white on black
  small.pgm           27x28: wrong size
  big.png             32x32 gray: wrong size
  truncated.pgm       P5 header for 28x28, only 100 pixels
  not-an-image.txt    text
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "examples", "mnist", "data")


def digit(i):
    with open(os.path.join(DATA, "test-images-idx3-ubyte"), "rb") as f:
        buf = f.read()
    magic, n, h, w = struct.unpack(">IIII", buf[:16])
    assert magic == 0x803 and h == w == 28 and i < n
    return list(buf[16 + i * 784: 16 + (i + 1) * 784])


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def png(width, height, rows, color_type):
    """rows: list of bytes objects (already in the colour type's layout)."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    d7, d3, d4, d2, d9 = digit(7), digit(3), digit(4), digit(2), digit(9)
    write("seven.pgm", b"P5\n28 28\n255\n" + bytes(d7))
    lines = ["P2", "# MNIST test digit 3", "28 28", "# maxval", "255"]
    lines += [" ".join(str(v) for v in d3[r * 28:(r + 1) * 28]) for r in range(28)]
    write("three-ascii.pgm", ("\n".join(lines) + "\n").encode())
    write("four-16bit.pgm", b"P5 28 28 65535\n" + b"".join(struct.pack(">H", v * 257) for v in d4))
    write("two-inverted.png", png(28, 28, [bytes(255 - v for v in d2[r * 28:(r + 1) * 28])
                                           for r in range(28)], 0))
    write("nine-rgb.png", png(28, 28, [bytes(c for v in d9[r * 28:(r + 1) * 28] for c in (v, v, v))
                                       for r in range(28)], 2))
    write("small.pgm", b"P5\n27 28\n255\n" + bytes(27 * 28))
    write("big.png", png(32, 32, [bytes(32)] * 32, 0))
    write("truncated.pgm", b"P5\n28 28\n255\n" + bytes(100))
    write("not-an-image.txt", b"This is a text file, not an image.\n")


if __name__ == "__main__":
    main()
