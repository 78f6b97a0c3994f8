#!/usr/bin/env bash
# Checks the OpenAPI document Herald serves with tools independent of Herald's
# own Go tests: swagger-parser validates it (OpenAPI 3.1 schema, every $ref
# resolved), openapi-typescript 7 generates a TypeScript client from it, and
# tsc compiles that client against client-check.ts. Fails if any of them
# does. The tools are the exact versions of package-lock.json, installed by
# npm ci into node_modules (git-ignored) and reinstalled only when the lock
# file changes; only the npm registry is needed.
set -euo pipefail
cd "$(dirname "$0")"
dir=$PWD
root=$(cd ../.. && pwd)

lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.herald-lock 2>/dev/null || true)" != "$lock" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock" >node_modules/.herald-lock
fi

work=$(mktemp -d)
serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The served document: GET /openapi.json of a herald serve on a free port.
(cd "$root" && go build -o "$work/herald" ./cmd/herald)
"$work/herald" serve --addr 127.0.0.1:0 --data "$work/data" >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/.* listening on \(http:\/\/[^ ]*\) .*/\1/p' "$work/serve.out")
  if [ -n "$url" ] || ! kill -0 "$serve_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "herald serve did not start:"; cat "$work/serve.err"; exit 1
fi
curl -fsS "$url/openapi.json" -o "$work/openapi.json"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""

node validate.mjs "$work/openapi.json"
mkdir -p generated
./node_modules/.bin/openapi-typescript "$work/openapi.json" -o generated/herald.ts
./node_modules/.bin/tsc -p tsconfig.json
echo "TypeScript client generated and compiled: $dir/generated/herald.ts"
