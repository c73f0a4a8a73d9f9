"""Screenshots of the HTML views in Debian's headless Chromium, and the PNG decoded with
zlib alone (chunks, CRCs, IDAT, scanline filters), for the screenshot tests."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
WIDTH, HEIGHT = 1400, 2400
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Png(NamedTuple):
    """A decoded 8-bit RGB or RGBA image: one bytes object per pixel row."""

    width: int
    height: int
    channels: int
    rows: list[bytes]


def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(type, body)`` of each chunk, checking the signature and every CRC."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        yield kind, body
        pos += 12 + length


def paeth(left: int, up: int, upleft: int) -> int:
    """The Paeth predictor (PNG spec, 9.4)."""
    p = left + up - upleft
    pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
    if pa <= pb and pa <= pc:
        return left
    return up if pb <= pc else upleft


def unfilter(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    """One scanline with its filter (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) undone."""
    if kind == 0:
        return line
    if kind == 2:
        return bytes((x + up) & 0xFF for x, up in zip(line, prev, strict=True))
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + left) & 0xFF
        elif kind == 3:
            out[i] = (out[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            upleft = prev[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + paeth(left, prev[i], upleft)) & 0xFF
        else:
            raise AssertionError(f"unknown PNG filter type {kind}")
    return bytes(out)


def decode_png(data: bytes) -> Png:
    """Decode a non-interlaced 8-bit RGB/RGBA PNG (what Chromium writes)."""
    header, idat = None, bytearray()
    for kind, body in png_chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    assert header is not None, "no IHDR chunk"
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(bytes(idat))
    assert len(raw) == height * (stride + 1), "IDAT size does not match IHDR"
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        prev = unfilter(raw[start], raw[start + 1 : start + 1 + stride], prev, channels)
        rows.append(prev)
    return Png(width, height, channels, rows)


def rgb(colour: str) -> bytes:
    """``#rrggbb`` as three bytes."""
    return bytes.fromhex(colour.removeprefix("#"))


def rows_with_colour(png: Png, colour: bytes) -> int:
    """How many pixel rows hold at least one pixel of exactly ``colour``."""
    step = png.channels
    return sum(
        1
        for row in png.rows
        if any(row[i : i + 3] == colour for i in range(0, len(row), step))
    )


def chromium() -> str:
    """The chromium binary; skip without it, except in CI where it must be there."""
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed (scripts/install-deps.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def screenshot(html_file: Path, png_file: Path, profile: Path) -> None:
    """Headless Chromium's screenshot of ``html_file``, window 1400x2400."""
    command = [
        chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--force-color-profile=srgb",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--screenshot={png_file}",
        f"--window-size={WIDTH},{HEIGHT}",
        html_file.resolve().as_uri(),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]


def pixels_of(png, colour: bytes) -> int:
    step = png.channels
    return sum(1 for row in png.rows for i in range(0, len(row), step) if row[i:i + 3] == colour)


def colour_box(png, colour: bytes, top: int = 0) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of every pixel of exactly ``colour`` from row ``top`` down."""
    xs, ys = [], []
    for y, row in enumerate(png.rows[top:], start=top):
        for x in range(png.width):
            if row[x * png.channels: x * png.channels + 3] == colour:
                xs.append(x)
                ys.append(y)
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None
