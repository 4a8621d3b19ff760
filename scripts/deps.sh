# scripts/deps.sh — sourced by demo.sh and test.sh: makes sure the Debian
# packages (and, for the test suite, the pinned Python packages) are there.
# As root it installs what is missing; otherwise it prints the apt-get line.

MT_APT_PACKAGES=(meson ninja-build pkg-config gcc libopenblas-dev libpng-dev zlib1g-dev)
# g++: the consumer tests include every public header from C++17;
# python3-torch: train_interop_torch loads checkpoints in Debian's PyTorch
# (/usr/bin/python3; PyPI's wheels would pull GBs of CUDA)
MT_TEST_APT_PACKAGES=(libcmocka-dev libblis-dev clang lld llvm libclang-rt-14-dev
                      valgrind python3 python3-venv dataset-fashion-mnist g++
                      python3-torch)
# WebAssembly: the wasm32 build, the Node/Go/browser tests (.ci/run). Node and
# Go come with the machine image (Node >= 20, Go >= 1.25).
MT_WASM_APT_PACKAGES=(clang lld llvm wasi-libc libclang-rt-14-dev-wasm32 binaryen chromium)

# mt_require_packages PKG... : install (root) or explain (non-root).
mt_require_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "Installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "Missing packages. Run:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
}

# mt_python_venv DIR [REQUIREMENTS] : a venv with pinned packages (default
# tests/requirements.txt); prints its python.
mt_python_venv() {
    local dir=$1 requirements=${2:-tests/requirements.txt}
    if [ ! -x "$dir/bin/python" ]; then
        python3 -m venv "$dir" >&2
    fi
    "$dir/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$requirements" >&2
    echo "$dir/bin/python"
}

# The Keras interop test's venv: TensorFlow and Keras at the pins the MNIST
# training uses (examples/mnist/train/requirements.txt).
mt_keras_venv() {
    mt_python_venv "$1" examples/mnist/train/requirements.txt
}
