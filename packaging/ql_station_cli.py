"""Entry script of the frozen console executable `ql-station` (see build_installer.spec)."""

from app.entry import main

raise SystemExit(main())
