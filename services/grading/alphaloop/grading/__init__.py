"""AlphaLoop grading."""
