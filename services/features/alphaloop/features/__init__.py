"""AlphaLoop features."""
