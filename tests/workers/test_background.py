"""start_call: results and errors come back on the GUI thread; a dead owner gets nothing."""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThreadPool
from pytestqt.qtbot import QtBot

from app.domain.errors import ConflictError, NotFoundError, StationError
from app.workers.background import CallFailure, calls_in_flight, start_call


def test_the_result_arrives_on_the_calling_thread(qtbot: QtBot) -> None:
    seen: list[tuple[object, bool]] = []
    worker_threads: list[threading.Thread] = []

    def work() -> int:
        worker_threads.append(threading.current_thread())
        return 42

    start_call(
        work,
        "Answering",
        lambda r: seen.append((r, threading.current_thread() is threading.main_thread())),
        lambda m: seen.append((m, False)),
    )
    qtbot.waitUntil(lambda: bool(seen), timeout=5_000)
    assert seen == [(42, True)]
    assert worker_threads[0] is not threading.main_thread()


def test_a_station_error_arrives_with_its_type_on_the_calling_thread(qtbot: QtBot) -> None:
    failures: list[tuple[CallFailure, bool]] = []
    raised = NotFoundError("there is no batch named 'x'")

    def work() -> None:
        raise raised

    start_call(
        work,
        "Loading the batch",
        lambda _r: None,
        lambda f: failures.append((f, threading.current_thread() is threading.main_thread())),
    )
    qtbot.waitUntil(lambda: bool(failures), timeout=5_000)
    [(failure, on_calling_thread)] = failures
    assert on_calling_thread
    assert failure.error is raised and isinstance(failure.error, NotFoundError)
    assert failure.what == "Loading the batch"
    assert failure.message == "Loading the batch failed: there is no batch named 'x'"
    assert not failure.unexpected
    assert failure.error.__traceback__ is None, "the pool thread's frames stay on the pool thread"


def test_a_defect_is_reported_and_logged(qtbot: QtBot, caplog) -> None:  # type: ignore[no-untyped-def]
    failures: list[CallFailure] = []
    start_call(lambda: 1 / 0, "Dividing", lambda _r: None, failures.append)
    qtbot.waitUntil(lambda: bool(failures), timeout=5_000)
    [failure] = failures
    assert isinstance(failure.error, ZeroDivisionError) and failure.unexpected
    assert failure.message == "Dividing failed unexpectedly: ZeroDivisionError: division by zero"
    assert "Traceback" in caplog.text


_released_on_main_thread: list[bool] = []


class _Released(ConflictError):
    """Records the thread it is let go on."""

    def __del__(self) -> None:
        _released_on_main_thread.append(threading.current_thread() is threading.main_thread())


def test_the_exception_is_let_go_on_the_calling_thread(qtbot: QtBot) -> None:
    _released_on_main_thread.clear()
    kinds: list[type[StationError]] = []

    def work() -> None:
        raise _Released("the name is taken")

    for _ in range(20):
        start_call(work, "Creating", lambda _r: None, lambda f: kinds.append(type(f.error)))
    qtbot.waitUntil(lambda: len(kinds) == 20, timeout=10_000)
    assert QThreadPool.globalInstance().waitForDone(5_000)
    QCoreApplication.processEvents()
    assert kinds == [_Released] * 20
    assert _released_on_main_thread == [True] * 20


def test_a_destroyed_owner_gets_nothing(qtbot: QtBot) -> None:
    owner = QObject()
    gate = threading.Event()
    delivered: list[object] = []
    start_call(lambda: gate.wait(5) and "late", "Waiting", delivered.append, delivered.append, owner=owner)
    with qtbot.waitSignal(owner.destroyed, timeout=5_000):
        owner.deleteLater()
    gate.set()
    assert QThreadPool.globalInstance().waitForDone(5_000)
    QCoreApplication.processEvents()  # the queued result is delivered now, to nobody
    assert delivered == []


def test_a_live_owner_gets_its_result(qtbot: QtBot) -> None:
    owner = QObject()
    delivered: list[object] = []
    start_call(lambda: "on time", "Answering", delivered.append, delivered.append, owner=owner)
    qtbot.waitUntil(lambda: bool(delivered), timeout=5_000)
    assert delivered == ["on time"]


def test_callbacks_holding_the_last_reference_to_their_owner_are_let_go_safely(qtbot: QtBot) -> None:
    """A model whose only reference is its own callback (a lambda on `self`) is freed with the call."""
    results: list[int] = []
    failures: list[CallFailure] = []
    freed: list[bool] = []
    for value in range(20):
        owner = QObject()
        owner.destroyed.connect(lambda _obj=None: freed.append(True))
        start_call(
            lambda v=value: v, "Counting", lambda r, _o=owner: results.append(r), failures.append, owner=owner
        )
        del owner
    qtbot.waitUntil(lambda: len(results) == 20, timeout=10_000)
    assert sorted(results) == list(range(20)) and failures == []
    assert len(freed) == 20, "every owner was freed once its result was delivered"


def test_what_the_function_holds_is_let_go_on_the_calling_thread(qtbot: QtBot) -> None:
    """A function is usually a lambda over a page or dialog. Were the pool thread to drop the last
    reference, the widget would be destroyed there: the crash seen in CI."""
    results: list[int] = []
    failures: list[CallFailure] = []
    destroyed_on_this_thread: list[bool] = []
    here = threading.current_thread()
    for _ in range(20):
        probe = QObject()
        probe.destroyed.connect(
            lambda _obj=None: destroyed_on_this_thread.append(threading.current_thread() is here),
            Qt.ConnectionType.DirectConnection,
        )
        start_call(lambda p=probe: id(p), "Looking", lambda r: results.append(r), failures.append)
        del probe
    qtbot.waitUntil(lambda: len(results) == 20, timeout=10_000)
    assert QThreadPool.globalInstance().waitForDone(5_000)
    QCoreApplication.processEvents()
    assert failures == [] and destroyed_on_this_thread == [True] * 20
    assert calls_in_flight() == 0
