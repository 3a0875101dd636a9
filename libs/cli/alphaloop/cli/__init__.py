"""The ``alphaloop`` command line (Typer + Rich). Lives outside libs/common because it starts
services, and libs/common never imports a service."""
