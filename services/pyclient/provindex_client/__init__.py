"""Python client tools for provindex.

- ``provindex_client.normalize``: normalization versions 1 and 2,
  content_id, SHA-256 and token counts, as provindex computes them.
- ``provindex_client.Client``: a typed client over the generated gRPC stubs
  (``provindex_client.proto.provindex.v1``).
- ``provindex_client.ledger``: an independent verifier of ledger proofs.

Submodules are imported on first use, so the ledger verifier runs with
``cryptography`` alone.
"""

__all__ = ["Client", "normalize", "content_id", "content_id_hex", "token_count"]


def __getattr__(name):
    if name == "Client":
        from .client import Client

        return Client
    if name in ("content_id", "content_id_hex", "token_count"):
        from . import normalize as _n

        return getattr(_n, name)
    if name == "normalize":
        import importlib

        return importlib.import_module(".normalize", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
