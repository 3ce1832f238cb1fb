"""The server's database: ``models`` (the tables, the clock) and ``database`` (opening it)."""
