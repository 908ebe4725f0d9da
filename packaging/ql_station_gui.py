"""Entry script of the frozen windowed executable "QuarkLink Station" (see build_installer.spec)."""

from app.entry import gui_main

raise SystemExit(gui_main())
