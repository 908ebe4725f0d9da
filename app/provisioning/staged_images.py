"""Flash images handed to port workers as files named by their SHA-256, not inside the job line.

A job used to carry its images in base64 on the worker's stdin: over a megabyte a board, written by the
station and decoded by the worker, 64 times for 64 boards of one task. Starting 64 boards, that pipe
traffic and decoding held the last workers back by half a second before they touched their board. Here
the station writes each image once, with its zlib stream for esptool, into a private folder of its own
(0700, removed when the station stops), and the job names the files with the image's SHA-256; the worker
reads them and checks the digest, so a file changed or damaged in between is refused, not flashed.

The images are not secret (firmware and bootloaders), but the folder is private all the same: no other
user of the computer gets to swap a file between the check and the read.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from app.domain.errors import ValidationError
from app.domain.records import FlashImage
from app.flashing.deflate_memo import deflate
from app.system.private_files import write_private

PREFIX = "ql-station-images-"


@dataclass(frozen=True)
class Staged:
    """Where one image's files are, and the SHA-256 the worker checks them against."""

    path: Path
    deflated: Path
    sha256: str
    deflated_sha256: str


class StagedImages:
    """The station's folder of image files, each written once however many jobs name it."""

    def __init__(self, folder: Path | None = None) -> None:
        """`folder` (tests) must exist; by default a new private temporary folder, removed by `close`."""
        self._owned = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix=PREFIX)) if folder is None else folder
        self._lock = threading.Lock()
        self._written: dict[str, str] = {}  # image SHA-256 -> its zlib stream's SHA-256

    def path_for(self, image: FlashImage) -> Staged:
        """The files of `image` (written now if this is its first job): its bytes, and its zlib stream
        for esptool (app/flashing/deflate_memo.py), made here once instead of in every worker."""
        digest = image.sha256 or hashlib.sha256(image.data).hexdigest()
        path, deflated_path = self.folder / f"{digest}.bin", self.folder / f"{digest}.deflated"
        with self._lock:
            deflated_digest = self._written.get(digest)
            if deflated_digest is None or not (path.exists() and deflated_path.exists()):
                stream = deflate(image.data)
                write_private(path, image.data, what="job image")
                write_private(deflated_path, stream, what="job image's zlib stream")
                deflated_digest = self._written[digest] = hashlib.sha256(stream).hexdigest()
        return Staged(path, deflated_path, digest, deflated_digest)

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)


def read_staged(
    path: str, deflated_path: str, sha256: str, deflated_sha256: str, name: str
) -> tuple[bytes, bytes]:
    """The worker's side: the image's bytes and the station's zlib stream of them, each checked
    against the SHA-256 the job gave (half a millisecond; inflating the stream to compare took two)."""
    data = _read(path, name)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ValidationError(
            f"job image {name!r} was damaged on the way: its SHA-256 is {actual}, the job says {sha256}"
        )
    deflated = _read(deflated_path, name)
    if hashlib.sha256(deflated).hexdigest() != deflated_sha256:
        raise ValidationError(
            f"job image {name!r} was damaged on the way: {deflated_path} is not the zlib stream the "
            "station made of it"
        )
    return data, deflated


def _read(path: str, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ValidationError(
            f"job image {name!r} is missing from {path} (the station that started this run has stopped?)"
        ) from None
    except OSError as error:
        raise ValidationError(f"job image {name!r} could not be read from {path}: {error.strerror}") from None
