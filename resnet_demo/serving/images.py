"""Turning an upload or a downloaded file into an RGB PIL image, safely.

Raster formats only, a pixel limit (``RESNET_DEMO_MAX_PIXELS``: checked from the header before any pixel is
decoded), EXIF orientation applied, every mode converted to RGB (transparency over white, 16-bit scaled to
8-bit). Every refusal is an ``InputError`` whose message a user can act on. URLs are fetched by ``fetch``.
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..base.settings import settings
from .fetch import FetchError, fetch_url

FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")


class InputError(ValueError):
    """Bad input, with a message meant for the user."""


# -- decoding -------------------------------------------------------------------------------------
def decode_image(data: bytes | str | os.PathLike) -> Image.Image:
    """Bytes or a file path -> an RGB image (see the module docstring for the rules)."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        try:
            size = path.stat().st_size
        except OSError as e:
            raise InputError("The uploaded file could not be read; upload it again.") from e
        max_bytes = settings().max_bytes
        if size > max_bytes:
            raise InputError(f"The file is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB.")
        data = path.read_bytes()
    if not data:
        raise InputError("The file is empty (0 bytes).")
    max_pixels = settings().max_pixels
    try:
        # No `with`: closing an image frees its pixels, and keeping them saves a full-size copy. The file
        # is a BytesIO, so nothing is left open.
        im = Image.open(io.BytesIO(data), formats=FORMATS)
        w, h = im.size
        if w * h > max_pixels:
            raise InputError(f"The image is {w}x{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                             f"{max_pixels / 1e6:.0f}. Resize it and try again.")
        im.seek(0)  # GIF / animated WebP / multi-page TIFF: the first frame
        im.load()
        ImageOps.exif_transpose(im, in_place=True)
        return to_rgb(im)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(f"The image has too many pixels (limit {max_pixels / 1e6:.0f} megapixels).") from e
    except UnidentifiedImageError as e:
        raise InputError("This file is not an image we can read. Use JPEG, PNG, WebP, GIF, BMP or TIFF "
                         f"(detected: {_sniff(data)}).") from e
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, struct.error, zlib.error) as e:
        raise InputError(f"The image file is damaged or truncated and cannot be decoded ({e}).") from e


STRIP_PIXELS = 1 << 22  # 16 MB of float32: the most ``_to_8bit`` holds in float at once


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB (an RGB image is returned as it is). Transparency is composited over white;
    16/32-bit and float are rescaled to 8 bits."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _to_8bit(im).convert("RGB")
    if im.mode == "P" or im.mode == "PA" or "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit: the full range onto 0..255; 32-bit integer and float: min..max (of the finite values) onto
    0..255, NaN as 0. A band of rows at a time in float32: never a full-size float copy (a 6000x6000 float
    TIFF cost +1 GB converted whole in float64)."""
    w, h = im.size
    rows = max(1, STRIP_PIXELS // max(w, 1))

    def strips():
        for top in range(0, h, rows):
            yield top, np.array(im.crop((0, top, w, min(h, top + rows))), dtype=np.float32)  # a copy

    if im.mode.startswith("I;16"):
        lo, scale = 0.0, 1 / 257
    else:
        lo, hi = np.inf, -np.inf
        for _, a in strips():
            finite = a[np.isfinite(a)]
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        lo = lo if np.isfinite(lo) else 0.0
    out = np.empty((h, w), dtype=np.uint8)
    for top, a in strips():
        a -= np.float32(lo)
        a *= np.float32(scale)
        np.nan_to_num(a, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        np.clip(a, 0, 255, out=a)
        out[top:top + len(a)] = np.rint(a, out=a)
    return Image.fromarray(out, "L")


def _sniff(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    for magic, name in ((b"%pdf", "PDF"), (b"<svg", "SVG"), (b"<?xml", "XML/SVG"), (b"<!doctype html", "HTML"),
                        (b"<html", "HTML"), (b"pk\x03\x04", "ZIP")):
        if head.startswith(magic):
            return name
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unknown binary"



def load_input(upload: str | os.PathLike | bytes | None, url: str | None) -> tuple[Image.Image, str]:
    """The image to classify and where it came from ("upload" or "url"). The upload wins if both are given."""
    if upload:
        return decode_image(upload), "upload"
    if url and url.strip():
        try:
            data = fetch_url(url)
        except FetchError as e:
            raise InputError(str(e)) from None
        return decode_image(data), "url"
    raise InputError("Upload an image or paste an image URL first.")
