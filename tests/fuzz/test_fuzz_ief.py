"""IEF transcripts, the board's side of the UART: any bytes give a DeviceID the board really sent, or an
IefError with a message; never a crash, a hang, an ID the board did not send, or the password shown.

The board is a script of byte pieces on an in-memory port. Time is the session's `clock` parameter and
passes only while the board is silent, so a transcript that never finishes times out in no real time.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from app.domain.device_id import DeviceID
from app.provisioning.ief_session import IefAnswers, IefError, IefLine, IefResult, run_ief_session
from tests.support.scripted_port import Clock, ScriptedPort

from .cases import fuzz_case, result_or_station_error
from .strategies import hex_device_ids

PASSWORD = "fuzz-wifi-secret-42"
ANSWERS = IefAnswers(
    root_ca_pem="-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Vy\n-----END CERTIFICATE-----\n",
    endpoint="ql.example.net",
    port=6000,
    ssid="line-7",
    password=PASSWORD,
)
REQUESTS = ("ql_rootCA", "ql_endpoint", "ql_port", "wifi_ssid", "wifi_password")


def _line(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass") + b"\r\n"


protocol_lines = st.one_of(
    st.just(b"IEF DATA\x00\r\n"),
    st.sampled_from(REQUESTS).map(_line),
    hex_device_ids.map(lambda i: _line(f"deviceID:{i}")),
    hex_device_ids.map(lambda i: _line(f"I (812) IEF: DeviceID {i}")),
    st.text(max_size=80).map(lambda t: _line(f"deviceID:{t}")),
    st.from_regex(r"I \(\d{1,5}\) [a-z_]{1,12}: [ -~]{0,60}", fullmatch=True).map(_line),
    st.just(_line("I (2300) esp_netif_handlers: sta ip: 192.168.4.7, mask: 255.255.255.0")),
    st.just(_line("W (2100) wifi: authentication failed (reason 15)")),
    st.text(max_size=120).map(_line),
    st.binary(max_size=200),
)


@st.composite
def transcripts(draw: st.DrawFn) -> tuple[list[bytes], bytes]:
    """The board's output as pieces cut at arbitrary places, and the whole of it."""
    whole = b"".join(draw(st.lists(protocol_lines, max_size=25)))
    cuts = sorted(draw(st.lists(st.integers(0, len(whole)), max_size=12)))
    bounds = [0, *cuts, len(whole)]
    return [whole[a:b] for a, b in itertools.pairwise(bounds) if b > a], whole


def _run(pieces: list[bytes], journal: list[DeviceID], lines: list[IefLine]) -> IefResult | IefError:
    clock = Clock()
    port = ScriptedPort(pieces, clock)
    result = result_or_station_error(
        lambda: run_ief_session(
            port,
            ANSWERS,
            overall_timeout=5,
            request_timeout=2,
            network_timeout=1,
            on_line=lines.append,
            before_ack=journal.append,
            clock=clock,
        )
    )
    assert isinstance(result, IefResult | IefError), f"{type(result).__name__} is not an IEF error"
    sent = b"".join(port.written)
    assert sent.count(b"OK\n") <= len(journal), "a DeviceID was acknowledged before the station saved it"
    return result


@given(transcripts())
def test_any_transcript_gives_a_sent_id_or_an_ief_error(transcript: tuple[list[bytes], bytes]) -> None:
    pieces, whole = transcript
    with fuzz_case("IEF transcript"):
        journal: list[DeviceID] = []
        lines: list[IefLine] = []
        result = _run(pieces, journal, lines)
        if isinstance(result, IefResult):
            sent = re.findall(rb"deviceID:\s*([0-9a-fA-F]{64})", whole)
            assert result.device_id.encode() in {s.lower() for s in sent}, "an ID the board never sent"
            assert journal == [result.device_id]
        text = str(result) + "\n".join(line.text for line in lines)
        assert PASSWORD not in text


@given(hex_device_ids, st.integers(0, 63), st.data())
def test_a_damaged_copy_of_the_id_is_never_accepted(
    device_id: str, position: int, data: st.DataObject
) -> None:
    """The log line and the request disagree in one digit: whichever was damaged, nothing is acknowledged."""
    with fuzz_case("IEF transcript: damaged ID"):
        other = data.draw(st.sampled_from([c for c in "0123456789abcdef" if c != device_id[position]]))
        damaged = device_id[:position] + other + device_id[position + 1 :]
        logged, requested = data.draw(st.permutations([device_id, damaged]))
        board = [
            b"IEF DATA\x00\r\n",
            _line(f"I (812) IEF: DeviceID {logged}"),
            _line(f"deviceID:{requested}"),
        ]
        journal: list[DeviceID] = []
        result = _run(board, journal, [])
        assert isinstance(result, IefError) and "damaged on the UART" in str(result)
        assert journal == []
