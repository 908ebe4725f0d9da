"""Instances: the `Instance` protocol and its implementations (local today; remote and mirror next)."""
