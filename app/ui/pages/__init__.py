"""One page, one module; `registry.PAGES` is the list the main window builds its navigation from."""
