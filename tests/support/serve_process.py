"""`ql-station serve` as a real child process on loopback: started, read until it says where it listens,
then stopped, killed or started again on the same address by the tests that need a real server."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from app.instance.local.instance import LocalInstance
from app.system.paths import DataDir


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    url: str
    fingerprint: str
    banner: str

    @property
    def address(self) -> str:
        """HOST:PORT it listens on, for starting it again at the same place."""
        return self.url.removeprefix("https://")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the power goes or the OOM killer strikes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=15)

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C or a service manager stops it."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.communicate(timeout=30)


def start_serve(data_dir: Path, *extra: str, listen: str = "127.0.0.1:0") -> ServeProcess:
    """`ql-station --data-dir DATA serve --listen LISTEN EXTRA...`, once it has printed its banner."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--data-dir", str(data_dir), "serve", "--listen", listen, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    banner = ""
    assert process.stdout is not None
    while "Stop with Ctrl-C." not in banner:
        line = process.stdout.readline()
        if not line:
            assert process.stderr is not None
            raise AssertionError(f"serve ended early: {banner}{process.stderr.read()}")
        banner += line
    url = re.search(r"at (https://\S+)", banner)
    fingerprint = re.search(r"Root CA SHA-256 fingerprint: ([0-9A-F:]{95})", banner)
    assert url and fingerprint, banner
    return ServeProcess(process, url.group(1), fingerprint.group(1), banner)


def write_root_ca(data_dir: Path, ca_file: Path) -> Path:
    with LocalInstance.open(DataDir(data_dir).local_instance_db) as instance:
        ca_file.write_text(next(c.pem for c in instance.certificates() if c.role == "root"))
    return ca_file
