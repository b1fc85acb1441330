"""Plain-Python account rules: no ORM, broker or HTTP here."""
