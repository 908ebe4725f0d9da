"""The remote instance: the `Instance` protocol over HTTPS to a `ql-station serve` server."""
