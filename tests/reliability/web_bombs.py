"""Decompression bombs for the web tests (issue 14, item 1): small files that decode to pictures of
gigabytes, built in milliseconds without ever holding the picture. Each is a valid file of its format
(the decoders read it to the end), so a server that decodes it really spends the memory."""
import struct
import zlib


def deflate_zeros(count: int) -> bytes:
    """A zlib stream of ``count`` zero bytes: one compressed MiB, flushed so that it stands alone,
    repeated, then the rest and an empty final block; 1 GB of zeros in about 1 MB."""
    mib = 1 << 20
    one = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = one.compress(bytes(mib)) + one.flush(zlib.Z_FULL_FLUSH)
    rest = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = rest.compress(bytes(count % mib)) + rest.flush(zlib.Z_FINISH)
    adler = ((count % 65521) << 16) | 1  # Adler-32 of zeros: a stays 1, b adds 1 per byte
    return b"\x78\xda" + block * (count // mib) + tail + struct.pack(">I", adler)


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A grey PNG of zeros (400 MB for 20000 x 20000) in about 400 KB, CRCs correct."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", deflate_zeros((width + 1) * height))
            + chunk(b"IEND", b""))


def gif_bomb(width: int = 16000, height: int = 16000) -> bytes:
    """A GIF of one colour, 16000 x 16000 (a 3.8 GB decode) in about 185 KB: LZW codes for runs of 1, 2,
    3 ... pixels, a clear code when the code table is full (as giflib encodes), in 255-byte sub-blocks."""
    clear, end, first = 4, 5, 6  # code size 2: four colours
    out, pending, used = bytearray(), 0, 0
    bits, limit, next_code = 3, 8, first

    def put(code: int) -> None:
        nonlocal pending, used, bits, limit
        pending |= code << used
        used += bits
        while used >= 8:
            out.append(pending & 0xFF)
            pending >>= 8
            used -= 8

    put(clear)
    left, run = width * height, 1
    while left > 0:
        run = min(run, left)
        put(0 if run == 1 else run + first - 2)
        left -= run
        if left == 0:
            break
        if next_code >= limit and bits < 12:
            bits, limit = bits + 1, limit << 1
        if next_code >= 4095:
            put(clear)
            bits, limit, next_code, run = 3, 8, first, 1
        else:
            next_code, run = next_code + 1, run + 1
    put(end)
    if used:
        out.append(pending & 0xFF)
    blocks = b"".join(bytes([len(out[i:i + 255])]) + out[i:i + 255] for i in range(0, len(out), 255))
    screen = struct.pack("<6sHHBBB", b"GIF89a", width, height, 0x81, 0, 0) + bytes(12)  # 4-colour table
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02"
    return screen + image + blocks + b"\x00\x3b"


def webp_bomb(width: int = 16383, height: int = 16383) -> bytes:
    """A lossless WebP of one colour, 16383 x 16383 (1 GB and more to decode) in 44 bytes: five prefix
    codes of one symbol each, so that every pixel takes no bits at all."""
    value, count = 0, 0

    def put(number: int, size: int) -> None:
        nonlocal value, count
        value |= number << count
        count += size

    put(width - 1, 14), put(height - 1, 14), put(0, 1), put(0, 3)  # size, no alpha, version 0
    put(0, 1), put(0, 1), put(0, 1)  # no transform, no colour cache, one group of prefix codes
    for symbol in (0, 0, 0, 255, 0):  # green, red, blue, alpha, distance
        put(1, 1), put(0, 1)  # a simple code of one symbol
        if symbol < 2:
            put(0, 1), put(symbol, 1)
        else:
            put(1, 1), put(symbol, 8)
    payload = (b"\x2f" + value.to_bytes((count + 7) // 8, "little")).ljust(24, b"\x00")  # OpenCV wants 32+ bytes
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tiff_bomb(width: int = 13000, height: int = 13000, little_endian: bool = True, samples: int = 4) -> bytes:
    """A deflate-compressed 16-bit TIFF of zeros in one strip, RGBA by default: 1.35 GB for 13000 x 13000,
    in 1.3 MB. More ``samples`` per pixel (3 or more) make a small picture that takes as much memory."""
    order = "<" if little_endian else ">"
    strip = deflate_zeros(width * height * 2 * samples)
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, samples, None), (259, 3, 1, 8), (262, 3, 1, 2),
               (273, 4, 1, None), (277, 3, 1, samples), (278, 4, 1, height), (279, 4, 1, len(strip)),
               (284, 3, 1, 1), (338, 3, 1, 2)]
    ifd_size = 2 + 12 * len(entries) + 4
    bits_at, strip_at = 8 + ifd_size, 8 + ifd_size + 2 * samples
    ifd = struct.pack(order + "H", len(entries))
    for tag, kind, number, value in entries:
        value = bits_at if tag == 258 else strip_at if tag == 273 else value
        packed = struct.pack(order + ("H2x" if kind == 3 and tag != 258 else "I"), value)
        ifd += struct.pack(order + "HHI", tag, kind, number) + packed
    ifd += bytes(4)
    head = (b"II*\x00" if little_endian else b"MM\x00*") + struct.pack(order + "I", 8)
    return head + ifd + struct.pack(order + f"{samples}H", *[16] * samples) + strip
