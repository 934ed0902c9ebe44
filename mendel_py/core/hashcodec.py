"""Bundle hash formats: Mendel v1, Mendel v2 and this project's v3 (encode, decode, digests).

Layouts (SPEC §4), all written as URL-safe base64 without padding:

* mendel-v1: ``"mendel" 0x01 | branch bytes (<= 254) | 0xFF | file count u16le | sha1 (20)``
* mendel-v2: as v1 with ``0x02``; a branch index >= 254 is ``0xFE`` + u16le
* v3: ``"mendel" 0x03 | flags | [generation tag (4)] | uvarint branch_count | uvarint nonzero_count |
  nonzero_count x (uvarint zeros_before, uvarint index) | uvarint file_count | blake3 (20)``

Decoding is strict: every string it accepts is the one canonical encoding of what it returns, so
``encode(decode(text)) == text`` for every format.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import blake3

from ..config.model import HASH_FORMATS
from ..errors import HashError, HashLimitError

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "MAX_HASH_LENGTH",
    "MAX_V3_BRANCHES",
    "DecodedHash",
    "HashFormat",
    "MendelV1Format",
    "MendelV2Format",
    "V3Format",
    "b64decode",
    "b64encode",
    "decode",
    "file_blake3",
    "format_for",
    "get_format",
]

FORMATS = HASH_FORMATS  # (the `hash-format` values of .mendelrc)
"""Every hash format name, the default first: the one list config, CLI and server check against."""
DEFAULT_FORMAT = FORMATS[0]

MAX_HASH_LENGTH = 8192
"""Longest hash text `decode` looks at; anything longer is BADHASH before any work is done."""

MAX_V3_BRANCHES = 1 << 16
"""Most branch points a v3 hash may carry, so a few bytes can't decode to a huge tuple."""

MAX_UVARINT = (1 << 64) - 1
"""Largest value a v3 uvarint may hold (at most 10 bytes)."""

DIGEST_SIZE = 20
MAGIC = b"mendel"
V3_KEY_CONTEXT = "mendel_py v3 bundle url"
V3_FLAG_KEYED = 0x01
V3_FLAG_GENERATION = 0x02
MANIFEST_TAG_SIZE = 4
"""Bytes of the manifest tag a v3 hash carries when its flag bit 1 is set: since 2026-12 the
start of the content digest of the bundle's own manifest (SPEC §4; `generations.manifest_tag`),
before that of the generation id (still decoded while that generation is retained)."""
GENERATION_TAG_SIZE = MANIFEST_TAG_SIZE
"""The old name of `MANIFEST_TAG_SIZE` (the flag, `V3_FLAG_GENERATION`, and the `generation`
arguments and field keep the old word so callers keep working; `DecodedHash.manifest_tag`)."""

_END_OF_BRANCHES = 0xFF
_V2_ESCAPE = 0xFE
_V1_MAX_INDEX = 254
_V2_MAX_INDEX = 0xFFFF
_MAX_FILE_COUNT_U16 = 0xFFFF
_HEADER_SIZE = len(MAGIC) + 1


@dataclass(frozen=True, slots=True)
class DecodedHash:
    """The fields of a decoded bundle hash."""

    version: int
    branches: tuple[int, ...]
    file_count: int
    digest: bytes
    keyed: bool = False
    generation: bytes | None = None
    """The 4-byte tag of a v3 hash minted with a generation store (its bundle manifest's, or in
    older URLs its generation's), else None."""

    @property
    def manifest_tag(self) -> bytes | None:
        """`generation` by its meaning: the manifest tag the hash carries (None if none)."""
        return self.generation


# ---------------------------------------------------------------------------------------------
# base64 (RFC 4648 §5, no padding, strict)

_B64_CHAR = "[A-Za-z0-9_-]"
# A final group of 2 or 3 characters must leave its unused low bits zero, so every accepted
# text is the canonical spelling of its bytes.
_STRICT_B64 = re.compile(
    rf"(?:{_B64_CHAR}{{4}})*(?:{_B64_CHAR}{{2}}[AEIMQUYcgkosw048]|{_B64_CHAR}[AQgw])?"
)
_NOT_B64_CHAR = re.compile(r"[^A-Za-z0-9_-]")


def b64encode(raw: bytes) -> str:
    """URL-safe base64 of `raw` without `=` padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Decode unpadded URL-safe base64, accepting only its canonical spelling (ValueError else)."""
    if not isinstance(text, str):
        raise ValueError(f"base64 input must be a str, not {type(text).__name__}")
    if _STRICT_B64.fullmatch(text) is None:
        raise ValueError(_base64_problem(text))
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _base64_problem(text: str) -> str:
    """Say why `text` is not strict unpadded URL-safe base64."""
    if "=" in text:
        return "base64 padding '=' is not allowed"
    bad = _NOT_B64_CHAR.search(text)
    if bad is not None:
        return f"invalid base64 character {bad.group()!r} at {bad.start()}"
    if len(text) % 4 == 1:
        return "base64 length leaves a dangling character"
    return "base64 has non-zero unused bits in its last character"


# ---------------------------------------------------------------------------------------------
# digests and formats


def file_blake3(source: str | bytes) -> bytes:
    """32-byte blake3 of the UTF-8 source of one file (the per-file digest v3 trees use)."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    return blake3.blake3(data).digest()


def derive_v3_key(secret: bytes) -> bytes:
    """The 32-byte key of keyed v3 digests: blake3 derive_key(V3_KEY_CONTEXT, secret)."""
    return blake3.blake3(secret, derive_key_context=V3_KEY_CONTEXT).digest()


class HashFormat:
    """One hash format: how to digest a tree's files and how to write its hash."""

    __slots__ = ()
    name: str
    version: int
    file_digest: str
    keyed: bool = False

    def digest(self, parts: list[bytes]) -> bytes:
        """20-byte tree digest of the concatenated per-file digests, in walk order."""
        return self.digest_of(b"".join(parts))

    def digest_of(self, data: bytes) -> bytes:
        """20-byte tree digest of the per-file digests already concatenated in walk order."""
        raise NotImplementedError

    def encode(self, branches: Sequence[int], file_count: int, digest: bytes) -> str:
        """The hash text for a tree with these branch choices, file count and digest."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}{' keyed' if self.keyed else ''}>"


class _MendelFormat(HashFormat):
    """Shared parts of the two Mendel formats (sha1 digest, u16 file count)."""

    __slots__ = ()
    file_digest = "sha"
    _header: bytes

    def digest_of(self, data: bytes) -> bytes:
        return hashlib.sha1(data).digest()

    def encode(self, branches: Sequence[int], file_count: int, digest: bytes) -> str:
        _check_digest(digest)
        _check_u16_file_count(self.name, file_count)
        body = self._branch_bytes(branches)
        trailer = bytes((_END_OF_BRANCHES, file_count & 0xFF, file_count >> 8))
        return b64encode(self._header + body + trailer + digest)

    def _branch_bytes(self, branches: Sequence[int]) -> bytes:
        raise NotImplementedError


class MendelV1Format(_MendelFormat):
    """mendel-core 3.x hashes: one byte per branch index (at most 254)."""

    __slots__ = ()
    name = "mendel-v1"
    version = 1
    _header = MAGIC + b"\x01"

    def _branch_bytes(self, branches: Sequence[int]) -> bytes:
        _check_branch_range(self.name, branches, _V1_MAX_INDEX)
        return bytes(branches)


class MendelV2Format(_MendelFormat):
    """mendel-core 4.x hashes: indexes >= 254 escaped as 0xFE + uint16 LE (at most 65535)."""

    __slots__ = ()
    name = "mendel-v2"
    version = 2
    _header = MAGIC + b"\x02"

    def _branch_bytes(self, branches: Sequence[int]) -> bytes:
        _check_branch_range(self.name, branches, _V2_MAX_INDEX)
        if all(index < _V2_ESCAPE for index in branches):
            return bytes(branches)
        out = bytearray()
        for index in branches:
            if index < _V2_ESCAPE:
                out.append(index)
            else:
                out += bytes((_V2_ESCAPE, index & 0xFF, index >> 8))
        return bytes(out)


class V3Format(HashFormat):
    """This project's format: sparse uvarint branches, blake3 digest, optionally keyed."""

    __slots__ = ("keyed", "generation", "_key", "_header")
    name = "v3"
    version = 3
    file_digest = "blake3"

    def __init__(self, secret: bytes | None = None, generation: bytes | None = None):
        if generation is not None and len(generation) != MANIFEST_TAG_SIZE:
            raise ValueError(f"a generation tag is {MANIFEST_TAG_SIZE} bytes")
        self.keyed = secret is not None
        self.generation = generation
        self._key = derive_v3_key(secret) if secret is not None else None
        flags = (V3_FLAG_KEYED if self.keyed else 0) | (V3_FLAG_GENERATION if generation else 0)
        self._header = MAGIC + bytes((3, flags)) + (generation or b"")

    def digest_of(self, data: bytes) -> bytes:
        hasher = blake3.blake3(data) if self._key is None else blake3.blake3(data, key=self._key)
        return hasher.digest(length=DIGEST_SIZE)

    def encode(self, branches: Sequence[int], file_count: int, digest: bytes) -> str:
        _check_digest(digest)
        _check_v3_limits(branches, file_count)
        out = bytearray(self._header)
        out += _sparse_branches(branches)
        out += _uvarint(file_count)
        out += digest
        return b64encode(bytes(out))


def _check_digest(digest: bytes) -> None:
    if not isinstance(digest, (bytes, bytearray)) or len(digest) != DIGEST_SIZE:
        raise ValueError(f"a tree digest is {DIGEST_SIZE} bytes, got {digest!r}")


def _check_u16_file_count(name: str, file_count: int) -> None:
    if not 0 <= file_count <= _MAX_FILE_COUNT_U16:
        raise HashLimitError(
            f"{name} hashes hold at most {_MAX_FILE_COUNT_U16} files, this tree has "
            f"{file_count}; use the v3 hash format"
        )


def _check_branch_range(name: str, branches: Sequence[int], highest: int) -> None:
    if not branches:
        return
    low, high = min(branches), max(branches)
    if low < 0 or high > highest:
        bad = low if low < 0 else high
        raise HashLimitError(
            f"{name} hashes hold branch indexes 0..{highest}, this tree needs {bad}; "
            "use the v3 hash format"
        )


def _check_v3_limits(branches: Sequence[int], file_count: int) -> None:
    if len(branches) > MAX_V3_BRANCHES:
        raise HashLimitError(
            f"v3 hashes hold at most {MAX_V3_BRANCHES} branch points, this tree has {len(branches)}"
        )
    if branches and (min(branches) < 0 or max(branches) > MAX_UVARINT):
        raise HashLimitError(f"v3 branch indexes must be in 0..{MAX_UVARINT}")
    if not 0 <= file_count <= MAX_UVARINT:
        raise HashLimitError(f"v3 file counts must be in 0..{MAX_UVARINT}, got {file_count}")


def _uvarint(value: int) -> bytes:
    """Minimal unsigned LEB128 of `value`."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _sparse_branches(branches: Sequence[int]) -> bytes:
    """branch_count, nonzero_count, then (zeros_before, index) for every nonzero branch."""
    pairs = bytearray()
    nonzero = zeros = 0
    for index in branches:
        if index == 0:
            zeros += 1
            continue
        pairs += _uvarint(zeros)
        pairs += _uvarint(index)
        nonzero += 1
        zeros = 0
    return _uvarint(len(branches)) + _uvarint(nonzero) + bytes(pairs)


@lru_cache(maxsize=64)
def _cached_format(name: str, secret: bytes | None, generation: bytes | None = None) -> HashFormat:
    if name == "v3":
        return V3Format(secret, generation)
    if generation is not None:
        raise ValueError(f"only the v3 hash format carries a generation tag, not {name!r}")
    if secret is not None:
        raise ValueError(f"a hash key only applies to the v3 hash format, not {name!r}")
    if name == "mendel-v1":
        return MendelV1Format()
    if name == "mendel-v2":
        return MendelV2Format()
    raise ValueError(f"unknown hash format {name!r} (known: {', '.join(FORMATS)})")


def _secret_bytes(key: bytes | str | None) -> bytes | None:
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"a hash key is bytes or str, not {type(key).__name__}")
    if not key:
        raise ValueError("a hash key must not be empty")
    return bytes(key)


def get_format(
    name: str | None, key: bytes | str | None = None, generation: bytes | None = None
) -> HashFormat:
    """The format called `name` (None means "v3"); `key` switches v3 to keyed digests and
    `generation` (a 4-byte tag) makes v3 hashes name the manifest that minted them (SPEC §4)."""
    if name is not None and not isinstance(name, str):
        raise ValueError(f"a hash format name is a str (known: {', '.join(FORMATS)})")
    return _cached_format(DEFAULT_FORMAT if name is None else name, _secret_bytes(key), generation)


def format_for(decoded: DecodedHash, key: bytes | str | None = None) -> HashFormat:
    """The format that re-encodes `decoded`; a v3 hash must match whether a key is configured."""
    if decoded.version == 1:
        return get_format("mendel-v1")
    if decoded.version == 2:
        return get_format("mendel-v2")
    if decoded.version != 3:
        raise HashError("BADHASH", f"unknown hash version {decoded.version}")
    has_key = key is not None
    if decoded.keyed and not has_key:
        raise HashError("BADHASH", "keyed v3 hash, but this server has no hash key")
    if has_key and not decoded.keyed:
        raise HashError("BADHASH", "unkeyed v3 hash, but this server requires keyed hashes")
    return get_format("v3", key, decoded.generation)


# ---------------------------------------------------------------------------------------------
# decoding


def _bad(reason: str) -> HashError:
    return HashError("BADHASH", reason)


def decode(hash: str | None = None, *, text: str | None = None) -> DecodedHash:
    """Decode a hash of any known version; any malformed input raises HashError("BADHASH").

    `text=` is the deprecated name of `hash`."""
    if text is not None:
        warnings.warn("hashcodec.decode(text=) is deprecated; pass the hash", DeprecationWarning, stacklevel=2)
        hash = text
    raw = _hash_bytes(hash)
    if len(raw) < _HEADER_SIZE:
        raise _bad("truncated header" if MAGIC.startswith(raw) else "not generated by mendel")
    if raw[:6] != MAGIC:
        raise _bad("not generated by mendel")
    reader = _READERS.get(raw[6])
    if reader is None:
        raise _bad(f"unknown hash version {raw[6]}")
    return reader(raw)


def _hash_bytes(hash: object) -> bytes:
    if not isinstance(hash, str):
        raise _bad(f"a hash is a str, not {type(hash).__name__}")
    if len(hash) > MAX_HASH_LENGTH:
        raise _bad(f"longer than {MAX_HASH_LENGTH} characters")
    try:
        return b64decode(hash)
    except (ValueError, binascii.Error) as exc:
        raise _bad(str(exc)) from None


def _mendel_tail(raw: bytes, end: int) -> tuple[int, bytes]:
    """File count and digest after the 0xFF at `end`, which must end the input exactly."""
    expected = end + 3 + DIGEST_SIZE
    if len(raw) < expected:
        raise _bad("truncated: short or missing digest")
    if len(raw) > expected:
        raise _bad("trailing bytes after the digest")
    return raw[end + 1] | raw[end + 2] << 8, raw[end + 3 :]


def _read_mendel_v1(raw: bytes) -> DecodedHash:
    end = raw.find(b"\xff", _HEADER_SIZE)
    if end < 0:
        raise _bad("truncated: no end of branches")
    file_count, digest = _mendel_tail(raw, end)
    return DecodedHash(1, tuple(raw[_HEADER_SIZE:end]), file_count, digest, False)


def _read_mendel_v2(raw: bytes) -> DecodedHash:
    end = raw.find(b"\xff", _HEADER_SIZE)
    if end < 0:
        raise _bad("truncated: no end of branches")
    if raw.find(b"\xfe", _HEADER_SIZE, end) < 0:
        branches = tuple(raw[_HEADER_SIZE:end])
    else:
        branches, end = _read_v2_escaped_branches(raw)
    file_count, digest = _mendel_tail(raw, end)
    return DecodedHash(2, branches, file_count, digest, False)


def _read_v2_escaped_branches(raw: bytes) -> tuple[tuple[int, ...], int]:
    """Branches of a v2 hash that uses 0xFE escapes; returns them and the 0xFF's position."""
    branches: list[int] = []
    pos, size = _HEADER_SIZE, len(raw)
    while pos < size:
        byte = raw[pos]
        if byte == _END_OF_BRANCHES:
            return tuple(branches), pos
        if byte != _V2_ESCAPE:
            branches.append(byte)
            pos += 1
            continue
        if pos + 2 >= size:
            break
        index = raw[pos + 1] | raw[pos + 2] << 8
        if index < _V2_ESCAPE:
            raise _bad(f"non-canonical branch index {index} written with the 0xFE escape")
        branches.append(index)
        pos += 3
    raise _bad("truncated: no end of branches")


def _read_uvarint(raw: bytes, pos: int) -> tuple[int, int]:
    """Read one minimal LEB128 value at `pos`; return it and the position after it."""
    value = shift = 0
    size = len(raw)
    while True:
        if pos >= size:
            raise _bad("truncated varint")
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and shift:
                raise _bad("non-minimal varint")
            if value > MAX_UVARINT:
                raise _bad("varint larger than 64 bits")
            return value, pos
        shift += 7
        if shift >= 70:
            raise _bad("varint longer than 10 bytes")


def _read_v3(raw: bytes) -> DecodedHash:
    if len(raw) <= _HEADER_SIZE:
        raise _bad("truncated: missing flags")
    flags = raw[_HEADER_SIZE]
    if flags & ~(V3_FLAG_KEYED | V3_FLAG_GENERATION):
        raise _bad(f"reserved flag bits set (flags {flags:#04x})")
    pos = _HEADER_SIZE + 1
    generation = None
    if flags & V3_FLAG_GENERATION:
        generation = raw[pos : pos + MANIFEST_TAG_SIZE]
        if len(generation) < MANIFEST_TAG_SIZE:
            raise _bad("truncated: short generation tag")
        pos += MANIFEST_TAG_SIZE
    branches, pos = _read_v3_branches(raw, pos)
    file_count, pos = _read_uvarint(raw, pos)
    remaining = len(raw) - pos
    if remaining < DIGEST_SIZE:
        raise _bad("truncated: short or missing digest")
    if remaining > DIGEST_SIZE:
        raise _bad("trailing bytes after the digest")
    return DecodedHash(3, branches, file_count, raw[pos:], bool(flags & V3_FLAG_KEYED), generation)


def _read_v3_branches(raw: bytes, pos: int) -> tuple[tuple[int, ...], int]:
    """The sparse branch list of a v3 hash, expanded; returns it and the position after it."""
    branch_count, pos = _read_uvarint(raw, pos)
    if branch_count > MAX_V3_BRANCHES:
        raise _bad(f"more than {MAX_V3_BRANCHES} branches")
    nonzero_count, pos = _read_uvarint(raw, pos)
    if nonzero_count > branch_count:
        raise _bad("more nonzero branches than branch_count")
    branches: list[int] = []
    for _ in range(nonzero_count):
        zeros, pos = _read_uvarint(raw, pos)
        index, pos = _read_uvarint(raw, pos)
        if index == 0:
            raise _bad("a sparse branch entry has index 0")
        if len(branches) + zeros + 1 > branch_count:
            raise _bad("branches overrun branch_count")
        if zeros:
            branches.extend([0] * zeros)
        branches.append(index)
    branches.extend([0] * (branch_count - len(branches)))
    return tuple(branches), pos


_READERS: dict[int, Callable[[bytes], DecodedHash]] = {
    1: _read_mendel_v1,
    2: _read_mendel_v2,
    3: _read_v3,
}
