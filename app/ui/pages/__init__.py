"""One page, one module. `PAGES` is the registry the main window builds its navigation from."""
