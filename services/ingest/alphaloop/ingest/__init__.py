"""AlphaLoop ingest."""
