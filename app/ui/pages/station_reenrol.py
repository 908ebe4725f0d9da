"""Re-enrolling a board from the window: what the Station page asks before it starts one.

Re-enrolment flashes nothing: the board is reset into the IEF it runs and its requests are answered
again (the WiFi chosen now, this instance), and its DeviceID goes into the batch (moved there if it
was in another). It is what the failure messages mean by "re-enrol the board" — a wrong WiFi
password, a board that was unplugged before it reached the instance. The Records page (and a
board's tile) asks for it; the Station page runs it on the board's port, so its tile, log and record
are those of any other run.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from app.provisioning.run_request import RunRequest


def reenrol_problem(port: str, request: RunRequest | None, ports: set[str], busy: set[str]) -> str | None:
    """Why the board on `port` cannot be re-enrolled now, in words a person can act on, or None."""
    if request is None:
        return (
            "Choose the WiFi network first: “Start provisioning…” on the Station page sets the network "
            "the board joins, then press Re-enrol again."
        )
    if port not in ports:
        return (
            f"No board is plugged into {port} now: plug the board back into that port (the station "
            "lists it on the Station page), then press Re-enrol again."
        )
    if port in busy:
        return f"The board on {port} is being provisioned now: wait for it or stop it first."
    return None


def reenrol_question(
    parent: QWidget, title: str, port: str, request: RunRequest
) -> tuple[QMessageBox, QPushButton]:
    """The confirmation (not yet shown) and its Re-enrol button: which board, batch and network."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Re-enrol this board?",
        f"Re-enrol the board on {title} ({port}) into batch “{request.batch}”, joining WiFi "
        f"“{request.ssid}”?\n\nNothing is flashed: the board is reset into the firmware it runs, its "
        "requests are answered again, and its DeviceID is added to the batch (moved there if it is in "
        "another one).",
        parent=parent,
    )
    button = box.addButton("Re-enrol", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    return box, button
