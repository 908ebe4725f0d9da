"""The virtual IEF enrols for real after joining WiFi: TCP/TLS to the endpoint it was given, verified
against the root CA it received, against a real instance's enrolment service on loopback. Each failure
shows on the board's console with its own line."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.domain.chips import ChipType
from app.domain.kinds import BootloaderKind, DeviceState, IefKind
from app.domain.records import certificate_base64
from app.enrolment.runner import EnrolListen, start_enrolment
from app.enrolment.service import EnrolmentService
from app.instance.local.instance import LocalInstance
from app.sim.fleet import SimFleet
from tests.sim.sim_host import flash, run_firmware

Images = Callable[..., list[tuple[int, bytes]]]


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[LocalInstance]:
    with LocalInstance.open(tmp_path / "instance.sqlite3") as opened:
        opened.create_batch("line")
        yield opened


@pytest.fixture
def service(instance: LocalInstance, tmp_path: Path) -> Iterator[EnrolmentService]:
    started = start_enrolment(instance, EnrolListen("127.0.0.1", 0), tmp_path)
    yield started
    started.stop()


@pytest.fixture
def instance_answers(
    answers: dict[str, bytes], instance: LocalInstance, service: EnrolmentService
) -> dict[str, bytes]:
    root = next(c.pem for c in instance.certificates() if c.role == "root")
    return {
        **answers,
        "ql_rootCA": certificate_base64(root).encode(),  # what the station sends
        "ql_endpoint": b"localhost",
        "ql_port": str(service.port).encode(),
    }


def _board(make_fleet: Callable[..., SimFleet], signed_images: Images) -> SimFleet:
    fleet = make_fleet(chip=ChipType.ESP32C3)
    flash(fleet.urls[0], signed_images(ChipType.ESP32C3, BootloaderKind.DEV, IefKind.DEBUG))
    return fleet


def _ql_error(text: str) -> str:
    found = re.search(r"^E \(\d+\) QL: (.*)$", text, re.MULTILINE)
    assert found, text
    return found.group(1)


def test_unknown_then_batched_then_revoked(
    make_fleet: Callable[..., SimFleet],
    signed_images: Images,
    instance: LocalInstance,
    instance_answers: dict[str, Any],
) -> None:
    fleet = _board(make_fleet, signed_images)
    first = run_firmware(fleet.urls[0], instance_answers, until=" QL: enrolment refused")
    assert first.device_id is not None
    assert _ql_error(first.text()).startswith("enrolment refused: unknown_device: device ")
    assert re.search(
        r"^I \(\d+\) QL: TLS handshake ok, server verified against ql_rootCA$", first.text(), re.M
    )

    instance.add_devices("line", [first.device_id])
    second = run_firmware(fleet.urls[0], instance_answers, until=" QL: status:")
    assert re.search(
        r"^I \(\d+\) QL: enrolled: certificate serial [0-9a-f]+ valid until \d{4}-", second.text(), re.M
    )
    assert re.search(r"QL: status: enrolled in batch 'line', no firmware update", second.text())
    device = instance.find_device(first.device_id)
    assert device is not None and device.state is DeviceState.ENROLLED

    instance.set_device_state([first.device_id], DeviceState.REVOKED)
    third = run_firmware(fleet.urls[0], instance_answers, until=" QL: enrolment refused")
    assert _ql_error(third.text()).startswith("enrolment refused: revoked: device ")


@pytest.mark.parametrize("fault", ["root", "endpoint", "port"])
def test_wrong_parameters_fail_on_the_board_with_their_own_line(
    make_fleet: Callable[..., SimFleet],
    signed_images: Images,
    instance_answers: dict[str, Any],
    answers: dict[str, bytes],
    fault: str,
) -> None:
    given = dict(instance_answers)
    if fault == "root":
        given["ql_rootCA"] = answers["ql_rootCA"]  # a root CA of some other PKI
        expected = r"TLS handshake failed: server certificate not trusted by ql_rootCA \(.+\)"
    elif fault == "endpoint":
        given["ql_endpoint"] = b"no-such-host.example"
        expected = r"cannot resolve 'no-such-host.example': host not found \(DNS lookup failed\)"
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        given["ql_port"] = str(free).encode()
        expected = rf"connect to 127\.0\.0\.1:{free} failed: connection refused"
    fleet = _board(make_fleet, signed_images)
    result = run_firmware(fleet.urls[0], given, until="E (")
    assert re.fullmatch(expected, _ql_error(result.text())), result.text()
