"""Everything that is not GUI: parsing, fetching, runs, errors, export. Never imports Qt."""
