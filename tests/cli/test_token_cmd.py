"""`ql-station token create|list|revoke` on the built-in instance: the token works for its server."""

from __future__ import annotations

import json
from pathlib import Path

from app.server.server_db import FILE_NAME, ServerDatabase
from app.system.paths import DataDir
from tests.cli.conftest import Cli


def test_the_cli_manages_the_built_in_instances_tokens(cli: Cli, data_dir: Path) -> None:
    made = cli("token", "create", "nightly", "--days", "7")
    assert made.code == 0, made.err
    token = made.out.strip()
    assert token.startswith("qla_") and "\n" not in token
    assert "created API token 'nightly' acting as 'station'" in made.err
    assert "shown this once" in made.err
    tokens = ServerDatabase(DataDir(data_dir).local_instance_db.parent / FILE_NAME)
    try:
        assert tokens.user_of(token) == "station"  # what `ql-station serve` on this folder checks
    finally:
        tokens.close()
    listed = cli("token", "list", "--json")
    assert listed.code == 0 and token not in listed.out
    (entry,) = json.loads(listed.out)
    assert (entry["name"], entry["owner"], entry["last_used_at"]) == (
        "nightly",
        "station",
        entry["last_used_at"],
    )
    table = cli("token", "list")
    assert table.out.splitlines()[0].split() == ["Name", "Owner", "Created", "Last", "used", "Expires"]
    assert cli("token", "revoke", "nightly").out == "revoked API token 'nightly'\n"
    gone = cli("token", "revoke", "nightly")
    assert (gone.code, gone.err.strip()) == (2, "error: there is no API token named 'nightly'")
    assert "(none)" in cli("token", "list").out
    bad = cli("token", "create", "x", "--days", "99999")
    assert bad.code == 2 and "valid for 1 to 3650 days" in bad.err
