"""Generates the gRPC stubs for proto/provindex/v1/*.proto into
provindex_client/proto/ (git-ignored) when the package is built (pip
install, wheel, editable install), with grpcio-tools from the build
requirements. The .proto
files are read from the repository (../../proto); a source tree without them
(an sdist) must already hold the generated modules."""

import re
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
OUT = HERE / "provindex_client" / "proto"
PACKAGE = "provindex_client.proto"


def generate_stubs() -> None:
    protos = sorted((PROTO_ROOT / "provindex" / "v1").glob("*.proto"))
    if not protos:
        if (OUT / "provindex" / "v1" / "provenance_pb2.py").is_file():
            return  # already generated (an sdist)
        sys.exit(f"no .proto files under {PROTO_ROOT / 'provindex' / 'v1'} and no generated stubs")
    from grpc_tools import protoc
    import grpc_tools

    include = Path(grpc_tools.__file__).resolve().parent / "_proto"
    OUT.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        *[str(p) for p in protos],
    ]
    if protoc.main(args) != 0:
        sys.exit(f"protoc failed on {', '.join(p.name for p in protos)}")
    # protoc writes absolute imports (`from provindex.v1 import x_pb2`); make
    # them point into this package.
    for path in (OUT / "provindex" / "v1").glob("*.py*"):
        text = path.read_text()
        fixed = re.sub(r"^from provindex\.v1 import", f"from {PACKAGE}.provindex.v1 import", text, flags=re.M)
        if fixed != text:
            path.write_text(fixed)
    for pkg in (OUT, OUT / "provindex", OUT / "provindex" / "v1"):
        init = pkg / "__init__.py"
        if not init.exists():
            init.write_text('"""Generated gRPC stubs (setup.py)."""\n')


class BuildPyWithStubs(build_py):
    def run(self):
        generate_stubs()
        super().run()


# Also now: setuptools looks for the stub packages (pyproject.toml lists them)
# before build_py runs, when it writes the package metadata.
generate_stubs()


def runtime_requirements() -> list:
    """The generated modules check at import that grpcio and protobuf are at
    least the versions that generated them: require those."""
    reqs = ["cryptography>=41", "xxhash>=3.0"]
    try:
        import grpc_tools
        from google import protobuf
        from importlib.metadata import version

        reqs += [f"grpcio>={version('grpcio-tools')}", f"protobuf>={protobuf.__version__}"]
    except ImportError:  # metadata-only steps without the build requirements
        reqs += ["grpcio>=1.66", "protobuf>=5.27"]
    return reqs


setup(cmdclass={"build_py": BuildPyWithStubs}, install_requires=runtime_requirements())
