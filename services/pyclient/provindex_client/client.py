"""A small typed client over the generated gRPC stubs (ProvenanceService).

    from provindex_client import Client
    with Client("127.0.0.1:50051", token="...") as c:
        c.lookup_url("https://example.org/", match="prefix")
        c.lookup_content(text="some training sample")
        c.find_work("a passage", min_similarity=0.6)
        c.check_optout(url="https://example.org/a")

Answers are the generated protobuf messages (typed through the generated
.pyi files); errors are grpc.RpcError with the server's status and message.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import grpc

from .proto.provindex.v1 import provenance_pb2 as pb
from .proto.provindex.v1 import provenance_pb2_grpc as pb_grpc

_MATCH = {
    "exact": pb.URL_MATCH_EXACT,
    "prefix": pb.URL_MATCH_PREFIX,
    "host": pb.URL_MATCH_HOST,
    "domain": pb.URL_MATCH_DOMAIN,
}


class Client:
    """ProvenanceService client.

    addr: "HOST:PORT", "http://HOST:PORT" or "https://HOST:PORT" (TLS).
    token: bearer token sent as ``authorization: Bearer TOKEN``.
    ca: PEM root certificates for TLS (bytes or a file path); implies TLS.
    timeout: seconds per call (None: no deadline).
    """

    def __init__(
        self,
        addr: str,
        token: Optional[str] = None,
        *,
        ca: Optional[object] = None,
        timeout: Optional[float] = 30.0,
    ):
        tls = ca is not None
        for scheme in ("http://", "https://"):
            if addr.startswith(scheme):
                tls = tls or scheme == "https://"
                addr = addr[len(scheme):]
        addr = addr.rstrip("/")
        if tls:
            if isinstance(ca, str):
                with open(ca, "rb") as f:
                    ca = f.read()
            self._channel = grpc.secure_channel(addr, grpc.ssl_channel_credentials(root_certificates=ca))
        else:
            self._channel = grpc.insecure_channel(addr)
        self._metadata: Sequence[Tuple[str, str]] = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout
        self.stub = pb_grpc.ProvenanceServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request):
        return method(request, metadata=self._metadata, timeout=self._timeout)

    def lookup_url(
        self,
        url: str,
        match: str = "exact",
        *,
        from_time: Optional[int] = None,
        to_time: Optional[int] = None,
        page_size: int = 0,
        page_token: str = "",
        newest_first: bool = False,
    ) -> pb.LookupUrlResponse:
        """Captures of a URL; match is exact, prefix, host or domain."""
        if match not in _MATCH:
            raise ValueError(f"match must be one of {', '.join(_MATCH)}, not {match!r}")
        req = pb.LookupUrlRequest(
            url=url, match=_MATCH[match], page_size=page_size, page_token=page_token, newest_first=newest_first
        )
        if from_time is not None:
            req.from_time = from_time
        if to_time is not None:
            req.to_time = to_time
        return self._call(self.stub.LookupUrl, req)

    def lookup_content(
        self,
        content_id: Optional[str] = None,
        *,
        sha256: Optional[str] = None,
        text: Optional[str] = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> pb.LookupContentResponse:
        """A content by exactly one of content_id (32 hex digits), sha256
        (64 hex digits) or raw text (normalized by the server)."""
        keys = {k: v for k, v in (("content_id", content_id), ("sha256", sha256), ("text", text)) if v is not None}
        if len(keys) != 1:
            raise ValueError("give exactly one of content_id, sha256, text")
        return self._call(
            self.stub.LookupContent, pb.LookupContentRequest(page_size=page_size, page_token=page_token, **keys)
        )

    def find_work(
        self,
        text: str,
        *,
        min_similarity: Optional[float] = None,
        max_results: int = 0,
        page_token: str = "",
        captures_per_match: int = 0,
    ) -> pb.FindWorkResponse:
        """The exact match and near-duplicates of a work's text."""
        req = pb.FindWorkRequest(
            text=text, max_results=max_results, page_token=page_token, captures_per_match=captures_per_match
        )
        if min_similarity is not None:
            req.min_similarity = min_similarity
        return self._call(self.stub.FindWork, req)

    def check_optout(self, url: Optional[str] = None, *, content_id: Optional[str] = None) -> pb.CheckOptOutResponse:
        """Opt-out status of a URL or of a content (exactly one)."""
        if (url is None) == (content_id is None):
            raise ValueError("give exactly one of url, content_id")
        req = pb.CheckOptOutRequest(url=url) if url is not None else pb.CheckOptOutRequest(content_id=content_id)
        return self._call(self.stub.CheckOptOut, req)
