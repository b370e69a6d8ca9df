"""Pure parsers: raw text from probes in, typed facts out. No I/O here."""
