"""AlphaLoop cli."""
