"""What a board says about its own enrolment, so a run that does not reach Enrolled fails with the reason.

The instance only knows that a device has not enrolled; the board knows why (a server certificate its
root CA does not trust, a refused connection, a refusal from the service). The IEF logs each enrolment
failure as one ESP-IDF error line under the tag `QL` (docs/enrolment-protocol.md, "Device log"):

    E (2412) QL: TLS handshake failed: server certificate not trusted by ql_rootCA (...)

and, when it has said hello, the start of the DeviceID it enrols as:

    I (2301) QL: hello sent, DeviceID 9f86d081884c7d65...

The station reads these lines while it waits for the instance: first from the worker's own stream (the
board may fail its first attempt while the worker still has the port), then from the port itself once
the worker has exited (app/provisioning/board_console.py). A board that enrols as another DeviceID than
the one pushed (its hello shows another ID, or the service finds the ID it proves in no batch although
the pushed one is in the batch) had its ID damaged on the way: that is said in so many words, as no
retry can fix it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

QL_ERROR = re.compile(r"\bE \(\d+\) QL: (?P<reason>.+?)\s*$")
QL_HELLO = re.compile(r"\bQL: hello sent, DeviceID (?P<prefix>[0-9a-fA-F]{8,64})")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # ESP-IDF colours its lines
DECISIVE_REPEATS = 2  # the board retries on its own: the same failure twice is not a passing glitch
UNKNOWN_DEVICE = "unknown_device"  # the service's refusal of an ID that is in no batch

_ADVICE = (
    (
        "not trusted by ql_rootCA",
        "the root CA given to the board does not sign the instance's TLS certificate",
    ),
    ("connection refused", "nothing listens on the endpoint and port given to the board"),
    ("cannot resolve", "the endpoint given to the board is not a name its network knows"),
    ("connect to", "the board cannot reach the endpoint and port it was given (firewall, wrong address)"),
    (UNKNOWN_DEVICE, "the DeviceID the board enrols with is in no batch on the instance"),
    ("revoked", "the device is revoked on the instance"),
    ("firmware", "the firmware offered to the board failed its checks (signature, chip)"),
)


@dataclass(frozen=True)
class BoardVerdict:
    """Why the board did not enrol, in its own words and in a sentence a person can act on."""

    board_line: str  # the reason from the board's error line
    sentence: str
    decisive: bool  # no point waiting longer: the board repeated it, or enrols under another DeviceID


class BoardEnrolmentLog:
    """Fed by two threads (the worker's reader, then the console reader), read by the waiting one."""

    def __init__(self, pushed_id: str = "") -> None:
        self._lock = threading.Lock()
        self._pushed = pushed_id.lower()
        self._reason = ""
        self._repeats = 0
        self._enrols_as = ""

    def expect(self, pushed_id: str) -> None:
        with self._lock:
            self._pushed = pushed_id.lower()

    def feed(self, line: str) -> None:
        line = _ANSI.sub("", line)
        hello = QL_HELLO.search(line)
        error = QL_ERROR.search(line)
        with self._lock:
            if hello is not None:
                self._enrols_as = hello.group("prefix").lower()
            if error is not None:
                reason = error.group("reason")
                self._repeats = self._repeats + 1 if reason == self._reason else 1
                self._reason = reason

    def verdict(self) -> BoardVerdict | None:
        """None while the board has said nothing against enrolling."""
        with self._lock:
            reason, repeats, enrols_as, pushed = self._reason, self._repeats, self._enrols_as, self._pushed
        other_id = bool(enrols_as) and not pushed.startswith(enrols_as)
        if pushed and (other_id or UNKNOWN_DEVICE in reason):  # its ID was pushed, so it is in a batch
            shown = f"{enrols_as}…" if other_id else "a DeviceID that is in no batch"
            sentence = (
                f"DeviceID damaged on the UART: the board enrols as {shown}, not as the {pushed[:16]}… "
                "pushed, so the device in the batch can never enrol; remove it from the batch and provision "
                "the board again"
            )
            return BoardVerdict(reason or f"enrols as {enrols_as}", sentence, True)
        if not reason:
            return None
        advice = next((text for key, text in _ADVICE if key in reason), "")
        sentence = f"the board could not enrol: {reason}" + (f" ({advice})" if advice else "")
        return BoardVerdict(reason, sentence, repeats >= DECISIVE_REPEATS)
