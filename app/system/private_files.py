"""The station's files are the person's alone: folders 0700, files 0600, and failures as sentences.

The data folder holds the instance's encrypted keys, the DeviceID journal and the provisioning records;
other users of a shared line PC have no business reading them. Modes are set with `os.chmod` after
creation, not left to the umask, because a permissive umask (0002 on many desktops) would otherwise
decide. An existing folder or file is only tightened (group and other bits removed), never loosened:
a person who made the data folder read-only on purpose keeps it read-only. On Windows the folder
inherits the user profile's ACLs and `chmod` means little, so modes are set on POSIX only.

Creating a file or folder can fail for reasons a person can fix (disk full, read-only file system, no
permission); `storage_error` turns the `OSError` into a `StorageError` that says which and what to do.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress
from pathlib import Path

from app.domain.errors import StorageError

DIR_MODE = 0o700
FILE_MODE = 0o600
_POSIX = os.name == "posix"


def private_dir(path: Path, *, what: str = "folder") -> Path:
    """Create `path` and missing parents 0700; an existing `path` loses group/other access.

    Existing parents are left alone: they are the person's (a home folder, a shared drive).
    """
    try:
        missing = [folder for folder in (path, *path.parents) if not folder.is_dir()]
        for folder in reversed(missing):
            folder.mkdir(mode=DIR_MODE, exist_ok=True)
            _restrict(folder, DIR_MODE, fresh=True)
        if not missing:
            _restrict(path, DIR_MODE, fresh=False)
    except OSError as exc:
        raise storage_error(path, exc, what=what) from None
    return path


def write_private(path: Path, data: bytes, *, what: str = "file") -> None:
    """Replace `path` with `data` atomically (a reader never sees half a file), 0600 from the start."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        _restrict(tmp, FILE_MODE, fresh=True)
        os.replace(tmp, path)
    except OSError as exc:
        raise storage_error(path, exc, what=what) from None


def private_file(path: Path, *, what: str = "file") -> Path:
    """Create `path` empty if missing, 0600; an existing one loses group/other access (folder must exist)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        fresh = False
    except OSError as exc:
        raise storage_error(path, exc, what=what) from None
    else:
        os.close(fd)
        fresh = True
    try:
        _restrict(path, FILE_MODE, fresh=fresh)
    except OSError as exc:
        raise storage_error(path, exc, what=what) from None
    return path


def tighten(path: Path) -> None:
    """Drop group/other access from an existing file or folder (one SQLite made beside its database)."""
    with suppress(OSError):  # gone, or someone else's: using it will tell the person more than this
        _restrict(path, 0, fresh=False)


def storage_error(path: Path, exc: OSError, *, what: str = "file") -> StorageError:
    """A sentence for an `OSError` met while creating or writing `path`, saying what the person can do."""
    return StorageError(f"cannot write the {what} {path}: {_advice(path, exc)}")


def _advice(path: Path, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{reason}; free space on the disk holding {path.parent} and try again"
    if exc.errno == errno.EROFS:
        return f"{reason}; choose a data folder on a writable disk"
    if exc.errno in (errno.EACCES, errno.EPERM):
        folder = _nearest_existing(path)
        return f"{reason}; give this user write access to {folder} or choose another data folder"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"{reason}; a file stands where a folder is needed on the way to {path}"
    return f"{reason}; check the disk and try again"


def _nearest_existing(path: Path) -> Path:
    """The folder whose permissions refused us: the closest one that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def _restrict(path: Path, mode: int, *, fresh: bool) -> None:
    if not _POSIX:
        return
    if fresh:
        os.chmod(path, mode)
        return
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        os.chmod(path, current & 0o700)
