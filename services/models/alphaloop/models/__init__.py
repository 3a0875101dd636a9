"""AlphaLoop models."""
