"""OpenTelemetry tracing: provider set-up and W3C trace-context propagation through bus
message headers, so one trace follows a bar from ingest to an execution."""

from __future__ import annotations

import sys
from collections.abc import Mapping, MutableMapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

_configured = False


def configure_tracing(service: str, exporter: str = "none", endpoint: str = "") -> None:
    """Install a TracerProvider for ``service``. ``exporter``: none, console or otlp."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"alphaloop-{service}"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:  # optional dependency
            raise RuntimeError(
                "otel_exporter=otlp needs opentelemetry-exporter-otlp-proto-grpc installed"
            ) from exc
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_trace_context(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current span's context (``traceparent``/``tracestate``) into ``headers``."""
    propagate.inject(headers)
    return headers


def extract_trace_context(headers: Mapping[str, str]) -> otel_context.Context:
    """The context carried by a message's headers; use as ``start_as_current_span(context=)``."""
    return propagate.extract(dict(headers))
