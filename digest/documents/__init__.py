"""A meeting's documents: what kind each is, and text read from PDF minutes and decision
notices (downloaded and parsed by `digest worker`, never by a web process)."""
