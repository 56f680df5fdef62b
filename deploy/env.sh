# Sourced by deploy/demo.sh and tests/run.sh: installs what a fresh Debian
# machine with a Rust toolchain lacks, and fixes the cargo target directory
# outside the clone so repeated runs reuse the (slow) RocksDB build.

need_packages=()
# rust-rocksdb runs bindgen at build time: it needs libclang itself (libclang.so),
# not just libclang-cpp, which a fresh Debian image already has.
has_libclang() {
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "install ok installed"
  else
    compgen -G '/usr/lib/llvm-*/lib/libclang.so' >/dev/null
  fi
}
has_libclang || need_packages+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || need_packages+=(g++)
command -v make >/dev/null 2>&1 || need_packages+=(make)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_packages+=(python3-venv)
# The web page's browser test (tests/e2e_web_page.rs): headless Chromium, its
# WebDriver, and CJK fonts so Chinese text renders in the screenshot.
command -v chromium >/dev/null 2>&1 || need_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_packages+=(chromium-driver)
compgen -G '/usr/share/fonts/opentype/noto/NotoSansCJK*' >/dev/null || need_packages+=(fonts-noto-cjk)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "installing missing system packages: ${need_packages[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_packages[@]}" >&2
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (rustup) first" >&2
  exit 1
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/provindex-target}"
mkdir -p "$CARGO_TARGET_DIR"
