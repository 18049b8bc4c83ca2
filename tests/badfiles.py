"""Odd and hostile image files, built on the fly: name -> (bytes, expected), expected "ok" or "error"."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _photo() -> Image.Image:
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, 64 * 48 * 3).reshape(48, 64, 3)
    return Image.fromarray((base + rng.integers(0, 30, base.shape)).clip(0, 255).astype(np.uint8), "RGB")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(side: int = 30000) -> bytes:
    """A valid 1-bit PNG of side x side pixels (~900 megapixels) that is only ~100 KB on disk."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)
    idat = b"".join(comp.compress(row * 1000) for _ in range(side // 1000)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def build() -> dict[str, tuple[bytes, str]]:
    photo = _photo()
    jpeg, png = _save(photo, "JPEG", quality=90), _save(photo, "PNG")
    cases: dict[str, tuple[bytes, str]] = {}

    def add(name: str, data: bytes, expected: str) -> None:
        cases[name] = (data, expected)

    add("empty.jpg", b"", "error")
    add("truncated.jpg", jpeg[: len(jpeg) // 2], "error")
    add("truncated.png", png[: len(png) // 2], "error")
    add("text.jpg", b"hello, this is not an image\n" * 20, "error")
    add("page.jpg", b"<!DOCTYPE html><html><body><img src=x></body></html>", "error")
    add("vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>', "error")
    add("doc.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "error")
    add("archive.zip", b"PK\x03\x04" + bytes(100), "error")
    add("random.bin", np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes(), "error")
    add("bomb.png", png_bomb(), "error")
    add("huge-header.gif", b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00" + b";", "error")
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # inside the IHDR chunk's CRC
    add("bad-crc.png", bytes(bad_crc), "error")
    add("icon.ico", _save(photo.resize((32, 32)), "ICO"), "error")  # raster, but not an accepted format

    frames = [Image.new("P", (16, 16), i % 256) for i in range(3000)]
    add("thousands-of-frames.gif", _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=10),
        "ok")
    add("cmyk.jpg", _save(photo.convert("CMYK"), "JPEG"), "ok")
    sixteen = Image.fromarray((np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16))
    add("sixteen-bit.png", _save(sixteen, "PNG"), "ok")
    pal = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    add("palette-transparent.png", _save(pal, "PNG", transparency=0), "ok")
    add("one-pixel.png", _save(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), "ok")
    add("strip-10000x10.png", _save(Image.new("RGB", (10000, 10), (10, 200, 10)), "PNG"), "ok")
    add("strip-10x10000.png", _save(Image.new("RGB", (10, 10000), (10, 10, 200)), "PNG"), "ok")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    add("exif-rotated.jpg", _save(photo, "JPEG", exif=exif), "ok")
    webp_frames = [photo.rotate(i * 30) for i in range(4)]
    add("animated.webp", _save(webp_frames[0], "WEBP", save_all=True, append_images=webp_frames[1:]), "ok")
    add("still.webp", _save(photo, "WEBP"), "ok")
    add("gray.jpg", _save(photo.convert("L"), "JPEG"), "ok")
    add("gray-alpha.png", _save(photo.convert("LA"), "PNG"), "ok")
    add("rgba.png", _save(photo.convert("RGBA"), "PNG"), "ok")
    add("bitmap.bmp", _save(photo, "BMP"), "ok")
    add("photo.tiff", _save(photo, "TIFF"), "ok")
    add("multipage.tiff", _save(photo, "TIFF", save_all=True, append_images=[photo.rotate(90)]), "ok")
    add("one-bit.png", _save(photo.convert("1"), "PNG"), "ok")
    add("float.tiff", _save(Image.fromarray(np.linspace(-1, 1, 64 * 48, dtype=np.float32).reshape(48, 64)), "TIFF"),
        "ok")
    add("int32.tiff", _save(Image.fromarray(np.arange(64 * 48, dtype=np.int32).reshape(48, 64)), "TIFF"), "ok")
    add("png-named.gif", png, "ok")
    add("trailing-garbage.jpg", jpeg + b"\x00garbage" * 100, "ok")
    return cases
