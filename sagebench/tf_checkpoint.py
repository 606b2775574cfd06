"""Read the float tensors of a TensorFlow (V2 "tensor bundle") checkpoint without TensorFlow.

A ``tf.train.Saver`` checkpoint ``PREFIX`` is ``PREFIX.index`` (a sorted string table, LevelDB's format:
data blocks of prefix-compressed keys, an index block, a 48-byte footer) mapping each variable name to a
``BundleEntryProto`` (dtype, shape, shard, offset, size), and ``PREFIX.data-00000-of-00001`` holding the raw
little-endian tensor bytes. This reads exactly that, for the float32 and float64 variables of a
single-shard, uncompressed bundle (what ``tf.train.Saver`` writes); anything else is a clear error. Only
numpy is needed (TensorFlow installs a few hundred MB and pins numpy; a 2.6 MB checkpoint should not need it).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from sagebench.errors import WeightsError

_MAGIC = 0xDB4775248B80FB57
_DTYPES = {1: np.dtype("<f4"), 2: np.dtype("<f8")}  # DT_FLOAT, DT_DOUBLE


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _block(data: bytes, offset: int, size: int, where: str) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of the table block at ``offset`` (its 5-byte trailer must say uncompressed)."""
    if data[offset + size] != 0:
        raise WeightsError(f"{where}: compressed table block (type {data[offset + size]}); not supported")
    block = data[offset:offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    out, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + vlen]))
        pos += vlen
    return out


def _fields(msg: bytes) -> list[tuple[int, int | bytes]]:
    """Protobuf wire fields ``(number, value)``: varints as int, length-delimited as bytes, fixed as int."""
    out, pos = [], 0
    while pos < len(msg):
        tag, pos = _varint(msg, pos)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            val, pos = _varint(msg, pos)
        elif wire == 2:
            n, pos = _varint(msg, pos)
            val, pos = msg[pos:pos + n], pos + n
        elif wire == 5:
            val, pos = struct.unpack_from("<I", msg, pos)[0], pos + 4
        elif wire == 1:
            val, pos = struct.unpack_from("<Q", msg, pos)[0], pos + 8
        else:
            raise WeightsError(f"unsupported protobuf wire type {wire}")
        out.append((num, val))
    return out


def read_tf_checkpoint(prefix: str | os.PathLike, *, index: str | os.PathLike | None = None,
                       data: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """``{variable name: array}`` of the checkpoint ``prefix`` (files ``prefix.index`` and
    ``prefix.data-00000-of-00001``, or the two paths given as ``index`` / ``data``)."""
    index = Path(index or f"{prefix}.index")
    data = Path(data or f"{prefix}.data-00000-of-00001")
    for p in (index, data):
        if not p.is_file():
            raise WeightsError(f"{p}: TensorFlow checkpoint file not found")
    table = index.read_bytes()
    if len(table) < 48 or struct.unpack_from("<Q", table, len(table) - 8)[0] != _MAGIC:
        raise WeightsError(f"{index}: not a TensorFlow checkpoint index (no table magic)")
    pos = len(table) - 48
    _meta_off, pos = _varint(table, pos)
    _meta_size, pos = _varint(table, pos)
    idx_off, pos = _varint(table, pos)
    idx_size, pos = _varint(table, pos)
    raw = data.read_bytes()
    out: dict[str, np.ndarray] = {}
    for _last_key, handle in _block(table, idx_off, idx_size, str(index)):
        off, hpos = _varint(handle, 0)
        size, _ = _varint(handle, hpos)
        for key, value in _block(table, off, size, str(index)):
            if not key:  # the BundleHeaderProto
                continue
            f = _fields(value)
            dtype = next((v for n, v in f if n == 1), 0)
            shard = next((v for n, v in f if n == 3), 0)
            offset = next((v for n, v in f if n == 4), 0)
            nbytes = next((v for n, v in f if n == 5), 0)
            shape_msg = next((v for n, v in f if n == 2), b"")
            shape = [next((s for m, s in _fields(d) if m == 1), 0) for n, d in _fields(shape_msg) if n == 2]
            name = key.decode()
            if dtype not in _DTYPES or shard != 0:
                raise WeightsError(f"{index}: variable {name!r} has dtype {dtype} / shard {shard}; only single-shard "
                                   "float32 / float64 bundles are read")
            arr = np.frombuffer(raw, dtype=_DTYPES[dtype], count=nbytes // _DTYPES[dtype].itemsize, offset=offset)
            if arr.size != int(np.prod(shape)):
                raise WeightsError(f"{index}: variable {name!r}: {arr.size} values for shape {shape}")
            out[name] = arr.reshape(shape).copy()
    return out


__all__ = ["read_tf_checkpoint"]
