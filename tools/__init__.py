"""Build and release scripts of the living review (not part of the analysis package)."""
