# Shell helpers of scripts/test, scripts/load, scripts/bench and scripts/schemathesis. Source it after
# setting `root` (the repository) and `venv` (its .venv).

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits up to 30 s for an HTTP answer (any status) at URL; returns 1 if none came.
wait_http() { # url
    local i
    for i in $(seq 1 150); do
        if python3 -c 'import sys,urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# Builds the workspace's binaries together with its test targets. Built in one invocation, the binaries
# get the same dependency features as `cargo test` gives them (dev-dependencies unified), so
# scripts/test, scripts/schemathesis, scripts/load and cargo test share one build of every dependency
# instead of three (each is hundreds of MiB: CI once ran out of disk).
build_bins() {
    cargo build --workspace --bins --tests "$@"
}

# The pinned Python tools of requirements-test.txt in $venv.
python_tools() {
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements-test.txt"
}

# Starts moto (the DynamoDB API) on a free loopback port, its output in LOG; sets moto_pid and exports
# WXAUTH_TEST_DYNAMODB_URL. moto runs behind one lock (scripts/moto_server.py): DynamoDB applies
# conditional writes atomically, moto's threads do not. Returns 1 if it does not answer.
start_moto() { # log
    local port
    port="$(free_port)"
    "$venv/bin/python" "$root/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$1" 2>&1 &
    moto_pid=$!
    export WXAUTH_TEST_DYNAMODB_URL="http://127.0.0.1:$port"
    wait_http "$WXAUTH_TEST_DYNAMODB_URL/moto-api/"
}
