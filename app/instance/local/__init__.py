"""The built-in local instance: SQLite store, PKI, signing keys, image catalog, tasks, users."""
