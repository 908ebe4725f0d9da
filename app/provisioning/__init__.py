"""The provisioning engine: per-port pipeline, supervisor, IEF UART session, records. No Qt."""
