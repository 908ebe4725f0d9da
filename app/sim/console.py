"""Text output of the boot code and the app: ROM lines and ESP-IDF style log lines (`I (123) TAG: msg`).

The "noise lines" fault lives here: once the app runs, a garbage line (binary junk, a half-escaped
colour code, a stray panic-looking fragment) goes out before every Nth line, as flaky boards and
cables produce, so the host must tell protocol lines from everything else.
"""

from __future__ import annotations

from app.sim.run_context import RunContext

NOISE_LINES = (
    b"\x1b[0;33m\xfe\xff\x07 ~~ \x00garbage\x1b[0m\r\n",
    b"\x80\x81\x82 IEF DAT\r\n",
    b"ql_root  ?? \xff\xfe\r\n",
    b"E (x) ???: \x1b[0;31m\x00\x00\r\n",
)


class Console:
    def __init__(self, ctx: RunContext, app: bool = False) -> None:
        self.ctx = ctx
        self.app = app
        self._lines = 0
        self._noise = 0

    def raw(self, data: bytes) -> None:
        every = self.ctx.faults.noise_lines_every
        if self.app and every:
            self._lines += 1
            if self._lines % every == 0:
                self.ctx.write(NOISE_LINES[self._noise % len(NOISE_LINES)])
                self._noise += 1
        self.ctx.write(data)

    def line(self, text: str) -> None:
        self.raw(text.encode() + b"\r\n")

    def log(self, level: str, tag: str, message: str) -> None:
        self.line(f"{level} ({self.ctx.millis()}) {tag}: {message}")

    def info(self, tag: str, message: str) -> None:
        self.log("I", tag, message)

    def warn(self, tag: str, message: str) -> None:
        self.log("W", tag, message)

    def error(self, tag: str, message: str) -> None:
        self.log("E", tag, message)

    def debug(self, tag: str, message: str) -> None:
        self.log("D", tag, message)
