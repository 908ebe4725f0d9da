"""Provisioning tasks: which chip, which bootloader and IEF variants, which key, which catalog images.

A task pins its images when it is created (the newest matching ones unless named), so importing a new
image later does not silently change what an existing task flashes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from app.domain.chips import ChipType
from app.domain.errors import ConflictError, NotFoundError, ValidationError
from app.domain.kinds import BootloaderKind, IefKind, ImageKind
from app.domain.names import validate_name
from app.domain.records import Page, PageRequest, ProvisioningTask
from app.domain.run_options import TaskRunOptions
from app.instance.local import image_catalog, signing_keys
from app.instance.local.database import from_ms, now_ms
from app.system.sqlite_paging import fetch_page, search_clause

_TABLES = (
    "tasks AS t JOIN signing_keys AS k ON k.id = t.signing_key_id "
    "JOIN images AS b ON b.id = t.bootloader_image_id "
    "JOIN images AS p ON p.id = t.partition_table_image_id "
    "JOIN images AS i ON i.id = t.ief_image_id"
)
_COLUMNS = (
    "t.name, t.device_type, t.bootloader, t.ief, k.name, b.name, p.name, i.name, t.created_ms, "
    "t.enrol_wait_ms, t.flash_baud"
)


@dataclass(frozen=True)
class TaskParts:
    """The ids behind a task, for signing its images."""

    device_type: ChipType
    bootloader: BootloaderKind
    signing_key: str
    image_ids: tuple[int, int, int]  # bootloader, partition table, IEF


@dataclass(frozen=True)
class TaskSpec:
    name: str
    device_type: ChipType
    bootloader: BootloaderKind
    ief: IefKind
    signing_key: str
    bootloader_image: str | None
    partition_table_image: str | None
    ief_image: str | None
    run_options: TaskRunOptions | None = None  # None: the defaults for a new task, kept by an update


def create(conn: sqlite3.Connection, spec: TaskSpec) -> ProvisioningTask:
    name = validate_name(spec.name, "task")
    if conn.execute("SELECT 1 FROM tasks WHERE name = ?", (name,)).fetchone() is not None:
        raise ConflictError(f"a task named {name!r} already exists")
    return _write(conn, spec, name, replacing=False, options=spec.run_options or TaskRunOptions())


def update(conn: sqlite3.Connection, spec: TaskSpec) -> tuple[ProvisioningTask, ProvisioningTask]:
    """Replace what an existing task flashes (chip, variants, key, images); its name and creation time stay.

    Images left as None are resolved again to the newest matching ones, as at creation. Returns the task
    before and after, so the caller can log what changed.
    """
    before = get(conn, spec.name)
    return before, _write(
        conn, spec, before.name, replacing=True, options=spec.run_options or before.run_options
    )


def delete(conn: sqlite3.Connection, name: str) -> ProvisioningTask:
    """Delete a task. Boards already provisioned with it keep what they were given; the station's records
    name the task as text, so they stay readable."""
    task = get(conn, name)
    conn.execute("DELETE FROM tasks WHERE name = ?", (task.name,))
    return task


def _write(
    conn: sqlite3.Connection, spec: TaskSpec, name: str, *, replacing: bool, options: TaskRunOptions
) -> ProvisioningTask:
    if not isinstance(spec.device_type, ChipType):
        raise ValidationError(f"device type must be one of {', '.join(c.value for c in ChipType)}")
    if not isinstance(spec.bootloader, BootloaderKind):
        raise ValidationError(f"bootloader must be one of {', '.join(k.value for k in BootloaderKind)}")
    if not isinstance(spec.ief, IefKind):
        raise ValidationError(f"IEF must be one of {', '.join(k.value for k in IefKind)}")
    if not isinstance(options, TaskRunOptions):
        raise ValidationError(
            "a task's run options must be TaskRunOptions (wait for enrolment, flashing rate)"
        )
    wait_ms = round(options.enrol_wait_s * 1000)
    key = signing_keys.get(conn, spec.signing_key)
    spec.device_type.check_secure_boot_key(key.key_type)
    chip = spec.device_type
    boot_id, boot_name = image_catalog.resolve(
        conn, spec.bootloader_image, chip, ImageKind.BOOTLOADER, spec.bootloader.value
    )
    table_id, table_name = image_catalog.resolve(
        conn, spec.partition_table_image, chip, ImageKind.PARTITION_TABLE, ""
    )
    ief_id, ief_name = image_catalog.resolve(conn, spec.ief_image, chip, ImageKind.IEF, spec.ief.value)
    image_catalog.check_ief_fits(conn, table_id, ief_id)
    if replacing:
        conn.execute(
            "UPDATE tasks SET device_type = ?, bootloader = ?, ief = ?, signing_key_id = ?, "
            "bootloader_image_id = ?, partition_table_image_id = ?, ief_image_id = ?, enrol_wait_ms = ?, "
            "flash_baud = ? WHERE name = ?",
            (
                chip.value,
                spec.bootloader.value,
                spec.ief.value,
                signing_keys.id_of(conn, key.name),
                boot_id,
                table_id,
                ief_id,
                wait_ms,
                options.flash_baud,
                name,
            ),
        )
        return get(conn, name)
    created = now_ms()
    conn.execute(
        "INSERT INTO tasks (name, device_type, bootloader, ief, signing_key_id, bootloader_image_id, "
        "partition_table_image_id, ief_image_id, created_ms, enrol_wait_ms, flash_baud) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            name,
            chip.value,
            spec.bootloader.value,
            spec.ief.value,
            signing_keys.id_of(conn, key.name),
            boot_id,
            table_id,
            ief_id,
            created,
            wait_ms,
            options.flash_baud,
        ),
    )
    return ProvisioningTask(
        name=name,
        device_type=chip,
        bootloader=spec.bootloader,
        ief=spec.ief,
        signing_key=key.name,
        bootloader_image=boot_name,
        partition_table_image=table_name,
        ief_image=ief_name,
        created_at=from_ms(created),
        run_options=options,
    )


def get(conn: sqlite3.Connection, name: str) -> ProvisioningTask:
    row = conn.execute(f"SELECT {_COLUMNS} FROM {_TABLES} WHERE t.name = ?", (name.strip(),)).fetchone()  # noqa: S608
    if row is None:
        raise NotFoundError(f"there is no task named {name.strip()!r}")
    return _task(row)


def parts(conn: sqlite3.Connection, name: str) -> TaskParts:
    row = conn.execute(
        "SELECT t.device_type, t.bootloader, k.name, t.bootloader_image_id, t.partition_table_image_id, "
        "t.ief_image_id FROM tasks AS t JOIN signing_keys AS k ON k.id = t.signing_key_id WHERE t.name = ?",
        (name.strip(),),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"there is no task named {name.strip()!r}")
    return TaskParts(ChipType(row[0]), BootloaderKind(row[1]), row[2], (row[3], row[4], row[5]))


def list_tasks(conn: sqlite3.Connection, page: PageRequest) -> Page[ProvisioningTask]:
    where, params = search_clause(("t.name", "t.device_type", "k.name"), page.search)
    return fetch_page(
        conn,
        select=_COLUMNS,
        table=_TABLES,
        where=where,
        params=params,
        order_by="t.name",
        page=page,
        row_to_item=_task,
    )


def _task(row: tuple[Any, ...]) -> ProvisioningTask:
    return ProvisioningTask(
        name=row[0],
        device_type=ChipType(row[1]),
        bootloader=BootloaderKind(row[2]),
        ief=IefKind(row[3]),
        signing_key=row[4],
        bootloader_image=row[5],
        partition_table_image=row[6],
        ief_image=row[7],
        created_at=from_ms(row[8]),
        run_options=TaskRunOptions(row[9] / 1000, row[10]),
    )
