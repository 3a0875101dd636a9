"""AlphaLoop risk."""
