"""`ql-station serve`: the HTTPS API over an instance (and, later, the device enrolment service)."""
