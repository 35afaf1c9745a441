"""What a picture file declares about itself, read from its header without decoding it: its format, its
size in pixels, whether it may hold transparency, and how much memory OpenCV needs to decode it.

A small file can declare an enormous picture (a "decompression bomb": a 185 KB GIF declaring 16000 x 16000
pixels takes 3.8 GB to decode), so the web app reads this first and decodes only what fits its budget.
Every format this OpenCV build decodes is known here (PNG and APNG, JPEG, GIF, WebP, BMP, TIFF and BigTIFF,
PBM/PGM/PPM, PAM, PFM, Sun raster, Radiance HDR, JPEG 2000); anything else is None, and the caller refuses
it. Where a file holds several pictures or frames (GIF, animated WebP, APNG, JPEG 2000 in a JP2 box), the
largest one counts. AVIF is known but refused: the AV1 stream inside decodes at its own size, whatever
the container declares (a 4000 x 4000 stream declared as 100 x 100 still takes 220 MB).

Decoding memory per pixel was measured with OpenCV 5.0 (peak resident memory of cv2.imdecode on a
4000 x 4000 picture, in bytes per pixel): 6.2 for 8-bit BGR output (the decoder's buffer and the result),
8 for BGRA, 12 for GIF, 16 for 16-bit BGRA, 15-21 for JPEG 2000, 24 for PFM and HDR (float buffers).
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass

COLOR_OUT = 3  # bytes per pixel of the BGR picture that IMREAD_COLOR returns


@dataclass(frozen=True)
class Header:
    format: str          # "PNG", "JPEG", ... as users know it
    width: int
    height: int
    alpha: bool          # may hold transparency: decoded with IMREAD_UNCHANGED (too)
    color_bytes: float   # peak bytes per pixel of cv2.imdecode(..., IMREAD_COLOR)
    unchanged_bytes: float = 0.0  # the same for IMREAD_UNCHANGED, when ``alpha``; half of it is the result
    oriented: bool = False  # may hold an EXIF orientation, which only IMREAD_COLOR applies

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def bytes_per_pixel(self) -> float:
        """Peak memory per pixel to decode it the way the web app does. Opaque: IMREAD_COLOR. With
        transparency: IMREAD_UNCHANGED, then (from it) the picture on white, or IMREAD_COLOR when no
        pixel is transparent; with an orientation as well, IMREAD_COLOR first (turned) and kept while
        the others are made."""
        if not self.alpha:
            return self.color_bytes
        made = self.unchanged_bytes / 2 + COLOR_OUT  # the picture with alpha, and the one on white
        if self.oriented:
            return max(self.color_bytes, COLOR_OUT + self.unchanged_bytes, COLOR_OUT + made)
        return max(self.unchanged_bytes, made, self.color_bytes)

    @property
    def decode_bytes(self) -> int:
        return int(self.pixels * self.bytes_per_pixel)


class HeaderError(ValueError):
    """A known format whose header is damaged, cut off or cannot tell the picture's size."""


class Refused(ValueError):
    """A format that is known but not read (its decoded size cannot be known before decoding)."""


def read_header(data: bytes) -> Header | None:
    """The header of a picture file in any format this OpenCV build decodes; None for anything else.
    Raises HeaderError when the format is recognised but its size cannot be read."""
    for signature, reader in _READERS:
        if signature(data):
            try:
                header = reader(data)
            except (HeaderError, Refused):
                raise
            except (IndexError, struct.error, ValueError):  # cut off, or numbers that are not numbers
                header = None
            if header is None or header.width < 0 or header.height < 0:
                raise HeaderError(f"the {_NAMES.get(reader, 'picture')} header is damaged or cut off")
            return header
    return None


# -- PNG (and animated PNG) ------------------------------------------------------------------------

def _png(data: bytes) -> Header | None:
    if data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    alpha, oriented, position = colour in (4, 6), False, 8
    while position + 8 <= len(data):  # every chunk: APNG frames and EXIF may come after the pixels
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"tRNS":
            alpha = True
        elif kind == b"eXIf":
            oriented = True
        elif kind == b"fcTL" and length >= 20:
            w, h, x, y = struct.unpack(">IIII", data[position + 12:position + 28])
            width, height = max(width, x + w), max(height, y + h)
        elif kind == b"IEND":
            break
        position += 12 + length
    sample = 2 if depth == 16 else 1
    return Header("PNG", width, height, alpha, color_bytes=6.5, unchanged_bytes=2 * 4 * sample + 0.5,
                  oriented=oriented)


# -- JPEG ------------------------------------------------------------------------------------------

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> Header | None:
    """The frame size from the first start-of-frame marker, walking the marker segments as libjpeg
    does (bytes between segments are skipped to the next 0xFF)."""
    position, size = 2, len(data)
    while position + 1 < size:
        if data[position] != 0xFF:
            position = data.find(b"\xff", position)
            if position == -1:
                return None
            continue
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x00, 0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame
            return None
        if marker in _SOF:
            height, width, components = struct.unpack(">HHB", data[position + 5:position + 10])
            # CMYK (4 components) and progressive files (whole-image coefficients: 8.9 bytes per pixel
            # measured without chroma subsampling) take more
            factor = 6.5 + (components if marker in (0xC2, 0xC6, 0xCA, 0xCE) else 0.0) + (components > 3)
            return Header("JPEG", width, height, False, color_bytes=factor)
        position += 2 + struct.unpack(">H", data[position + 2:position + 4])[0]
    return None


# -- GIF -------------------------------------------------------------------------------------------

def _gif(data: bytes) -> Header | None:
    """The logical screen and every frame: a frame may declare itself larger than the screen."""
    width, height, flags = struct.unpack("<HHB", data[6:11])
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    alpha = False
    while position < len(data):
        block = data[position]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            if data[position + 1] == 0xF9 and data[position + 3] & 1:  # graphic control: transparent colour
                alpha = True
            position = _skip_sub_blocks(data, position + 2)
        elif block == 0x2C:  # image descriptor
            left, top, w, h, local = struct.unpack("<HHHHB", data[position + 1:position + 10])
            width, height = max(width, left + w), max(height, top + h)
            position += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            position = _skip_sub_blocks(data, position + 1)  # after the LZW code size
        else:
            break  # garbage after the pictures: the decoder stops there too
    return Header("GIF", width, height, alpha, color_bytes=12.5, unchanged_bytes=12.5)


def _skip_sub_blocks(data: bytes, position: int) -> int:
    while position < len(data) and data[position]:
        position += 1 + data[position]
    return position + 1


# -- WebP ------------------------------------------------------------------------------------------

def _webp(data: bytes) -> Header | None:
    """The canvas (extended format) and every bitstream and animation frame inside."""
    sizes: list[tuple[int, int]] = []
    alpha = _webp_chunks(data, 12, len(data), sizes, top=True)
    if not sizes:
        return None
    width, height = max(w for w, _ in sizes), max(h for _, h in sizes)
    oriented = data[12:16] == b"VP8X" and bool(data[20] & 0x08) or b"EXIF" in data[12:4096]
    return Header("WebP", width, height, alpha, color_bytes=8.5, unchanged_bytes=8.5, oriented=oriented)


def _webp_chunks(data: bytes, position: int, end: int, sizes: list, top: bool) -> bool:
    alpha = False
    end = min(end, len(data))
    while position + 8 <= end:
        kind, length = data[position:position + 4], struct.unpack("<I", data[position + 4:position + 8])[0]
        body = position + 8
        if kind == b"VP8X":
            alpha |= bool(data[body] & 0x10)
            sizes.append((1 + int.from_bytes(data[body + 4:body + 7], "little"),
                          1 + int.from_bytes(data[body + 7:body + 10], "little")))
        elif kind == b"VP8 ":
            if data[body + 3:body + 6] != b"\x9d\x01\x2a":
                raise HeaderError("the WebP header is damaged or cut off")
            w, h = struct.unpack("<HH", data[body + 6:body + 10])
            sizes.append((w & 0x3FFF, h & 0x3FFF))
        elif kind == b"VP8L":
            if data[body] != 0x2F:
                raise HeaderError("the WebP header is damaged or cut off")
            bits = struct.unpack("<I", data[body + 1:body + 5])[0]
            sizes.append(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            alpha |= bool(bits >> 28 & 1)
        elif kind == b"ANMF" and top:  # an animation frame: offset, size, then its own chunks
            x, y = (2 * int.from_bytes(data[body + i:body + i + 3], "little") for i in (0, 3))
            w, h = (1 + int.from_bytes(data[body + i:body + i + 3], "little") for i in (6, 9))
            sizes.append((x + w, y + h))
            alpha |= _webp_chunks(data, body + 16, body + length, sizes, top=False)
        position = body + length + (length & 1)
    return alpha


# -- BMP -------------------------------------------------------------------------------------------

def _bmp(data: bytes) -> Header | None:
    if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 core header: 16-bit sizes
        width, height, _, bits = struct.unpack("<HHHH", data[18:26])
    else:
        width, height, _, bits = struct.unpack("<iiHH", data[18:30])
    return Header("BMP", abs(width), abs(height), bits == 32, color_bytes=6.5, unchanged_bytes=8.5)


# -- TIFF and BigTIFF ------------------------------------------------------------------------------

_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 16: "Q", 17: "q"}  # the integer ones


def _tiff(data: bytes) -> Header | None:
    """The first page's size, samples per pixel and bits per sample (OpenCV decodes the first page)."""
    order = "<" if data[:2] == b"II" else ">"
    big = struct.unpack(order + "H", data[2:4])[0] == 43
    if big:
        offset = struct.unpack(order + "Q", data[8:16])[0]
        count, entry, inline, first = struct.unpack(order + "Q", data[offset:offset + 8])[0], 20, 8, offset + 8
    else:
        offset = struct.unpack(order + "I", data[4:8])[0]
        count, entry, inline, first = struct.unpack(order + "H", data[offset:offset + 2])[0], 12, 4, offset + 2
    tags: dict[int, list[int]] = {}
    for index in range(min(count, 4096)):
        start = first + index * entry
        tag, kind = struct.unpack(order + "HH", data[start:start + 4])
        number = struct.unpack(order + ("Q" if big else "I"), data[start + 4:start + 4 + inline])[0]
        code = _TIFF_TYPES.get(kind)
        if tag == 274:
            tags[tag] = []
        if tag not in (256, 257, 258, 277, 338) or code is None:
            continue
        number = min(number, 16)  # BitsPerSample repeats per sample: the first few tell the size
        width = struct.calcsize(code) * number
        where = start + 4 + inline
        if width > inline:
            where = struct.unpack(order + ("Q" if big else "I"), data[where:where + inline])[0]
        tags[tag] = list(struct.unpack(order + code * number, data[where:where + width]))
    if not tags.get(256) or not tags.get(257):
        raise HeaderError("the TIFF header does not say the picture's size")
    samples = max(tags.get(277, [1])[0], 1)
    bits = max(tags.get(258, [1]) or [1])
    sample_bytes = samples * max(1, (bits + 7) // 8)
    # libtiff reads a strip or tile (up to the whole picture) in its own format, or as 4-byte RGBA
    native = max(sample_bytes, 4)
    return Header("TIFF", tags[256][0], tags[257][0], samples in (2, 4) or 338 in tags,
                  color_bytes=native + 2 * COLOR_OUT + 0.5, unchanged_bytes=2 * native + 0.5, oriented=274 in tags)


# -- PBM/PGM/PPM, PAM, PFM --------------------------------------------------------------------------

_PNM_NUMBER = re.compile(rb"(?:\s|#[^\n\r]*)*(\d+)")


def _pnm(data: bytes) -> Header | None:
    """P1-P6: width, height and (except for P1/P4) the largest value, separated by whitespace and comments."""
    numbers, position = [], 2
    for _ in range(2 if data[1:2] in b"14" else 3):
        match = _PNM_NUMBER.match(data, position, min(len(data), position + 65536))
        if not match:
            return None
        numbers.append(int(match.group(1)))
        position = match.end()
    sample = 2 if len(numbers) == 3 and numbers[2] > 255 else 1
    return Header("PNM", numbers[0], numbers[1], False, color_bytes=2 * 3 * sample + 0.5)


def _pam(data: bytes) -> Header | None:
    fields = dict(re.findall(rb"^\s*(WIDTH|HEIGHT|DEPTH|MAXVAL)\s+(\d+)", data[:65536].split(b"ENDHDR")[0],
                             re.MULTILINE))
    if b"WIDTH" not in fields or b"HEIGHT" not in fields:
        return None
    depth = max(int(fields.get(b"DEPTH", 1)), 1)
    sample = depth * (2 if int(fields.get(b"MAXVAL", 255)) > 255 else 1)
    return Header("PAM", int(fields[b"WIDTH"]), int(fields[b"HEIGHT"]), depth in (2, 4),
                  color_bytes=sample + 2 * COLOR_OUT + 0.5, unchanged_bytes=2 * sample + 0.5)


def _pfm(data: bytes) -> Header | None:
    match = re.match(rb"P[Ff]\s+(\d+)\s+(\d+)\s", data[:4096])
    return match and Header("PFM", int(match.group(1)), int(match.group(2)), False, color_bytes=24.5)


# -- Sun raster, Radiance HDR ----------------------------------------------------------------------

def _sun(data: bytes) -> Header | None:
    width, height = struct.unpack(">II", data[4:12])
    return Header("Sun raster", width, height, False, color_bytes=7.0)


def _hdr(data: bytes) -> Header | None:
    """The resolution line after the first empty line, e.g. "-Y 480 +X 640" (either axis first)."""
    match = re.search(rb"\n\n([-+])([XY]) (\d+) ([-+])([XY]) (\d+)", data[:65536])
    if not match or match.group(2) == match.group(5):
        return None
    first, second = int(match.group(3)), int(match.group(6))
    width, height = (second, first) if match.group(2) == b"Y" else (first, second)
    return Header("HDR", width, height, False, color_bytes=24.5)


# -- JPEG 2000 -------------------------------------------------------------------------------------

def _j2k(data: bytes) -> Header | None:
    """The codestream's SIZ segment (in a JP2 file: that of the contiguous codestream box)."""
    start = 0
    if data[:4] != b"\xff\x4f\xff\x51":
        start = _jp2_codestream(data)
        if start is None or data[start:start + 4] != b"\xff\x4f\xff\x51":
            return None
    x, y, x0, y0 = struct.unpack(">IIII", data[start + 8:start + 24])
    components = struct.unpack(">H", data[start + 40:start + 42])[0]
    # OpenJPEG keeps every component as 32-bit integers, then OpenCV converts
    return Header("JPEG 2000", max(0, x - x0), max(0, y - y0), components in (2, 4),
                  color_bytes=5 * max(components, 1) + 2 * COLOR_OUT, unchanged_bytes=5 * max(components, 1) + 8)


def _jp2_codestream(data: bytes) -> int | None:
    position = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        header = 8
        if length == 1:
            length, header = struct.unpack(">Q", data[position + 8:position + 16])[0], 16
        if kind == b"jp2c":
            return position + header
        if length == 0 or length < header:
            return None
        position += length
    return None


# -- AVIF (refused) --------------------------------------------------------------------------------

def _avif(data: bytes) -> Header | None:
    raise Refused("AVIF pictures are not read here: their real size is only known after decoding; "
                  "send PNG, JPEG or WebP")


def _is_avif(data: bytes) -> bool:
    if data[4:8] != b"ftyp":
        return False
    box = data[8:min(len(data), int.from_bytes(data[:4], "big"), 256)]
    brands = {box[i:i + 4] for i in range(0, len(box) - 3, 4)}
    return bool(brands & {b"avif", b"avis"})


_READERS = (
    (lambda d: d[:8] == b"\x89PNG\r\n\x1a\n", _png),
    (lambda d: d[:3] == b"\xff\xd8\xff", _jpeg),
    (lambda d: d[:6] in (b"GIF87a", b"GIF89a"), _gif),
    (lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP", _webp),
    (lambda d: d[:2] == b"BM", _bmp),
    (lambda d: d[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"), _tiff),
    (lambda d: len(d) > 2 and d[:1] == b"P" and d[1:2] in b"123456" and d[2:3].isspace(), _pnm),
    (lambda d: d[:2] == b"P7" and d[2:3].isspace(), _pam),
    (lambda d: d[:2] in (b"PF", b"Pf") and d[2:3].isspace(), _pfm),
    (lambda d: d[:4] == b"\x59\xa6\x6a\x95", _sun),
    (lambda d: d.startswith((b"#?RGBE", b"#?RADIANCE")), _hdr),
    (lambda d: d[:4] == b"\xff\x4f\xff\x51" or d[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n", _j2k),
    (_is_avif, _avif),
)
_NAMES = {_png: "PNG", _jpeg: "JPEG", _gif: "GIF", _webp: "WebP", _bmp: "BMP", _tiff: "TIFF", _pnm: "PNM",
          _pam: "PAM", _pfm: "PFM", _sun: "Sun raster", _hdr: "HDR", _j2k: "JPEG 2000"}
