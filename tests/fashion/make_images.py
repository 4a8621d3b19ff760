#!/usr/bin/env python3
"""Regenerate the small image files in this folder (python3 standard library only).

Images come from the committed Fashion-MNIST test slice (examples/fashion/data,
see examples/fashion/train/README.md); TensorFlow classifies each one used
here correctly (test-logits.f32).

  ankle-boot.pgm        test image 0 (Ankle boot), P5, light on black
  trouser-ascii.pgm     test image 2 (Trouser), P2 (text) with comments
  pullover.png          test image 1 (Pullover), 8-bit gray PNG
  sneaker-inverted.png  test image 9 (Sneaker), 8-bit RGB PNG, dark on white
                        (fashion predict --invert)
  bag-wide.png          a 28x29 gray PNG: wrong size
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "examples", "fashion", "data")


def image(i):
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
    boot, pullover, trouser, sneaker = image(0), image(1), image(2), image(9)
    write("ankle-boot.pgm", b"P5\n28 28\n255\n" + bytes(boot))
    lines = ["P2", "# Fashion-MNIST test image 2: a trouser", "28 28", "255"]
    lines += [" ".join(str(v) for v in trouser[r * 28:(r + 1) * 28]) for r in range(28)]
    write("trouser-ascii.pgm", ("\n".join(lines) + "\n").encode())
    write("pullover.png", png(28, 28, [bytes(pullover[r * 28:(r + 1) * 28]) for r in range(28)], 0))
    write("sneaker-inverted.png",
          png(28, 28, [bytes(c for v in sneaker[r * 28:(r + 1) * 28] for c in (255 - v,) * 3)
                       for r in range(28)], 2))
    write("bag-wide.png", png(29, 28, [bytes(29)] * 28, 0))


if __name__ == "__main__":
    main()
