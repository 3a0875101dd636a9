"""Shared building blocks for every AlphaLoop service: settings, clock, topics, bus, store,
telemetry and the gRPC bootstrap. Nothing in here imports a service."""
