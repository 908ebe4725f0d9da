"""What a brand-new local instance gets on its first open, all in one transaction.

An id, the key protector (keyring or passphrase), a PKI, the built-in simulation images for every chip and
variant, and default IEF parameters. Anything that fails (no keyring and no passphrase, say) rolls the
whole lot back, so the next open starts again from a clean, empty schema. Slow work (key generation,
image building) happens before the write lock is taken.
"""

from __future__ import annotations

import secrets
import socket

from app.domain.chips import ChipType
from app.domain.errors import ValidationError
from app.domain.kinds import BootloaderKind, IefKind, ImageKind
from app.instance.api import DEFAULT_IEF_PORT
from app.instance.local import activity, certificates, image_catalog, meta, params
from app.instance.local.database import Database, now_ms
from app.instance.local.image_catalog import CheckedImage
from app.instance.local.key_protection import KeyProtector, PassphrasePrompt, create_protector
from app.instance.local.pki import default_tls_hostnames, generate_pki
from app.system.keyring_store import KeyringStore

INSTANCE_NAME_PREFIX = "QuarkLink local instance"


def is_initialised(db: Database) -> bool:
    with db.read() as conn:
        return meta.get(conn, meta.INSTANCE_ID) is not None


def initialise(
    db: Database, actor: str, keyring: KeyringStore, prompt: PassphrasePrompt | None
) -> KeyProtector | None:
    """Set up a new instance; returns its unlocked protector, or None if another process got there first."""
    instance_id = secrets.token_hex(16)
    name = f"{INSTANCE_NAME_PREFIX} {instance_id[:8]}"
    protector, protection = create_protector(instance_id, keyring, prompt)
    materials = generate_pki(name, default_tls_hostnames(), protector)
    images = simulation_images()
    with db.write() as conn:
        if meta.get(conn, meta.INSTANCE_ID) is not None:
            return None
        meta.put(conn, meta.INSTANCE_ID, instance_id)
        meta.put(conn, meta.INSTANCE_NAME, name)
        meta.put(conn, meta.CREATED_MS, str(now_ms()))
        meta.put(conn, meta.PROTECTION, protection.to_json())
        params.write(conn, default_endpoint(), DEFAULT_IEF_PORT)
        certificates.insert_all(conn, materials)
        for image in images:
            image_catalog.insert(conn, image, simulation=True)
        activity.record(
            conn,
            actor,
            "instance.create",
            name,
            f"private keys protected by {protection.mode}; PKI root, issuing, tls; "
            f"{len(images)} simulation images",
        )
    return protector


def simulation_images() -> list[CheckedImage]:
    """Every chip's simulation bootloaders, partition table and IEFs, checked like any import."""
    # Imported on first start only: it loads esptool, which every later start of the window (and every
    # CLI command opening the instance) would otherwise pay for.
    from app.sim.images import build_sim_bootloader, build_sim_ief, build_sim_partition_table

    images = []
    for chip in ChipType:
        for boot in BootloaderKind:
            data = build_sim_bootloader(chip, boot)
            name = f"sim-{chip.value}-bootloader-{boot.value}"
            images.append(image_catalog.check(name, chip, ImageKind.BOOTLOADER, boot.value, data))
        name = f"sim-{chip.value}-partition-table"
        images.append(
            image_catalog.check(name, chip, ImageKind.PARTITION_TABLE, "", build_sim_partition_table(chip))
        )
        for ief in IefKind:
            name = f"sim-{chip.value}-ief-{ief.value}"
            images.append(image_catalog.check(name, chip, ImageKind.IEF, ief.value, build_sim_ief(chip, ief)))
    return images


def default_endpoint() -> str:
    """This computer's name when it is a valid hostname (boards on the LAN reach it), else localhost."""
    try:
        return params.validate_endpoint(socket.gethostname())
    except ValidationError:
        return "localhost"
