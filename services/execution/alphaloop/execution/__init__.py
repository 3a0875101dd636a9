"""AlphaLoop execution."""
