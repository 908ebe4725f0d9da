"""The IEF's persistent settings, kept in the flash `nvs` partition.

Not ESP-IDF's NVS page format (nothing outside the simulator reads it): one record, `QLNVS1`, a length,
JSON, and a CRC32. What matters is where it lives: in flash, so an erase of the partition or of the whole
chip forgets WiFi credentials, instance parameters and the enrolment key, exactly as on a real board.
The enrolment private key is stored here as the board's own secret; it never leaves the board.
"""

from __future__ import annotations

import json
import struct
import zlib

from app.sim.flash import Flash
from app.sim.partition_table import Partition

MAGIC = b"QLNVS1"
_HEADER = struct.Struct("<6sI")


class NvsStore:
    def __init__(self, flash: Flash, partition: Partition) -> None:
        self._flash = flash
        self._partition = partition
        self.values: dict[str, str] = self._load()

    def _load(self) -> dict[str, str]:
        region = self._flash.read(self._partition.offset, self._partition.size)
        if not region.startswith(MAGIC):
            return {}
        _, length = _HEADER.unpack_from(region)
        body = region[_HEADER.size : _HEADER.size + length]
        crc = region[_HEADER.size + length : _HEADER.size + length + 4]
        if len(body) != length or crc != struct.pack("<I", zlib.crc32(body)):
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value
        self._save()

    def delete(self, *keys: str) -> None:
        for key in keys:
            self.values.pop(key, None)
        self._save()

    def _save(self) -> None:
        body = json.dumps(self.values, separators=(",", ":")).encode()
        record = _HEADER.pack(MAGIC, len(body)) + body + struct.pack("<I", zlib.crc32(body))
        if len(record) > self._partition.size:
            raise ValueError("settings do not fit the nvs partition")
        self._flash.erase(self._partition.offset, len(record))
        self._flash.write(self._partition.offset, record)
