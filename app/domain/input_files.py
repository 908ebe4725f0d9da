"""Reading a file a person named, whole, without trusting its size.

A path can name /dev/zero, a FIFO, a multi-gigabyte log or a folder. Every file the station reads whole
(batch files, images, passphrase files) goes through here: at most `cap` + 1 bytes are read, so an
endless stream costs no more than the cap, and every failure is a sentence naming the file.
"""

from __future__ import annotations

from pathlib import Path

from app.domain.errors import NotFoundError, ValidationError


def read_capped(path: Path, cap: int, what: str) -> bytes:
    """The bytes of `path`, or NotFoundError / ValidationError naming `what` ("batch file") and the cap."""
    try:
        with path.open("rb") as file:
            data = file.read(cap + 1)
    except FileNotFoundError:
        raise NotFoundError(f"cannot read {path}: {what} not found") from None
    except IsADirectoryError:
        raise ValidationError(f"cannot read {what} {path}: it is a folder, not a file") from None
    except OSError as error:
        raise ValidationError(f"cannot read {what} {path}: {error.strerror or error}") from None
    if len(data) > cap:
        raise ValidationError(
            f"{what} {path} is larger than {size_text(cap)}, the most the station reads; "
            "check that this is the right file"
        )
    return data


def size_text(size: int) -> str:
    """`16 MiB`, `64 KiB` or `512 bytes`: a size a person reads at a glance."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"
