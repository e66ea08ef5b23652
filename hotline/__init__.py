"""hotline: analytics federation for the 12333 hotline."""
