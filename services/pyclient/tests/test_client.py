"""The typed client's argument checks and its error on an unreachable
server (the calls against a real server are in tests/e2e_pyclient.rs).
Skipped without grpcio or without the generated stubs (a source tree that
was not built: pip install services/pyclient)."""

import socket
import unittest

try:
    import grpc
    from provindex_client.client import Client
    from provindex_client.proto.provindex.v1 import provenance_pb2
except ImportError as e:  # pragma: no cover
    raise unittest.SkipTest(f"client not available: {e}")


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Arguments(unittest.TestCase):
    def setUp(self):
        self.client = Client(f"http://127.0.0.1:{closed_port()}", token="t0k", timeout=5)

    def tearDown(self):
        self.client.close()

    def test_exactly_one_key(self):
        with self.assertRaises(ValueError):
            self.client.lookup_content()
        with self.assertRaises(ValueError):
            self.client.lookup_content("0" * 32, text="x")
        with self.assertRaises(ValueError):
            self.client.check_optout()
        with self.assertRaises(ValueError):
            self.client.check_optout("https://a.example/", content_id="0" * 32)

    def test_match_names(self):
        with self.assertRaises(ValueError) as cm:
            self.client.lookup_url("https://a.example/", match="subdomain")
        self.assertIn("exact, prefix, host, domain", str(cm.exception))

    def test_unreachable_server_is_an_rpc_error(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.client.lookup_url("https://a.example/")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_stub_messages(self):
        req = provenance_pb2.LookupUrlRequest(url="https://a.example/", match=provenance_pb2.URL_MATCH_DOMAIN)
        self.assertEqual(provenance_pb2.LookupUrlRequest.FromString(req.SerializeToString()), req)
        self.assertEqual(self.client._metadata, (("authorization", "Bearer t0k"),))


if __name__ == "__main__":
    unittest.main()
