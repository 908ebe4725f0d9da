from __future__ import annotations

from pathlib import Path

from app.sim.flash import Flash
from app.sim.nvs_store import NvsStore
from app.sim.partition_table import SIM_PARTITIONS

NVS = next(p for p in SIM_PARTITIONS if p.name == "nvs")


def test_values_persist_in_flash_and_vanish_with_an_erase(tmp_path: Path) -> None:
    flash = Flash(tmp_path / "flash.bin", 0x400000)
    try:
        store = NvsStore(flash, NVS)
        store.set("ql_port", "6000")
        assert NvsStore(flash, NVS).get("ql_port") == "6000"
        store.delete("ql_port")
        assert NvsStore(flash, NVS).get("ql_port") is None
        store.set("wifi_ssid", "x")
        flash.erase(NVS.offset, NVS.size)
        assert NvsStore(flash, NVS).values == {}
    finally:
        flash.close()
