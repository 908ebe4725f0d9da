"""The device enrolment service of an instance (docs/enrolment-protocol.md). No Qt here."""
