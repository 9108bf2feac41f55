#!/usr/bin/env bash
# Runs the pipeline and service test suites with LOG_LEVEL=trace, keeps every line they and the
# processes they start print (test output, moto's logs, facerec-server/worker logs left under
# the temporary directory), and greps it all for the secrets in play:
#   - the moto server's secret access key (read from its env file while the tests run),
#   - the fixed secrets and tokens the tests use on purpose ("wrong-secret-must-not-leak",
#     "session-token-must-not-leak", "revoked-secret-must-not-leak", "not-the-secret", the
#     bearer token "s3cret-token"),
#   - any "Signature=" of a SigV4 Authorization header, and any X-Amz-Security-Token value.
#
#   bash scripts/check_log_secrets.sh [FILTER]     (default filter: CloudPipelineTests|ServiceTests)
#
# Exits 1 if any occurrence is found (and prints it), 0 otherwise. Needs the debug test build.
set -uo pipefail
cd "$(dirname "$0")/.."
FILTER="${1:-CloudPipelineTests|ServiceTests}"
OUT="$(mktemp -d /tmp/facerec-logcheck-XXXXXX)"
export LOG_LEVEL=trace TMPDIR="$OUT/tmp"
mkdir -p "$TMPDIR"
# The moto secret is random per start and its env file (under $TMPDIR/facerec-moto-<pid>-*/, where
# the test process starts its servers) is removed at stop: copy it while it exists.
( while :; do for f in "$TMPDIR"/facerec-moto-*/env; do [ -f "$f" ] && cp "$f" "$OUT/moto.env"; done; sleep 1; done ) &
COPIER=$!
nice -n 10 swift test --skip-build --no-parallel --filter "$FILTER" > "$OUT/test.log" 2>&1
status=$?
kill "$COPIER" 2>/dev/null; wait "$COPIER" 2>/dev/null
echo "swift test exit status: $status; $(grep -E '^(✔|✘) Test run' "$OUT/test.log" | tail -1)"
secrets=(wrong-secret-must-not-leak session-token-must-not-leak revoked-secret-must-not-leak not-the-secret s3cret-token)
if [ -f "$OUT/moto.env" ]; then
  moto_secret="$(grep FACEREC_MOTO_SECRET_ACCESS_KEY "$OUT/moto.env" | cut -d= -f2)"
  [ -n "$moto_secret" ] && secrets+=("$moto_secret")
else
  echo "warning: the moto env file was never seen; its secret is not checked"
fi
# Every log we can find: the test output, moto's logs, and all *.log/*.out under the temp dir.
mapfile -t files < <(find "$OUT" -type f \( -name '*.log' -o -name '*.out' \) ! -name 'moto.env')
lines=$(cat "${files[@]}" | wc -l)
found=0
for secret in "${secrets[@]}"; do
  # The test sources name the fixed strings in expectations (#expect(!text.contains("..."))); a
  # failing expectation would print them, so only lines that are not expectation sources count.
  hits=$(grep -F -- "$secret" "${files[@]}" | grep -v -F '#expect' || true)
  if [ -n "$hits" ]; then echo "FOUND ${secret:0:4}…:"; echo "$hits" | head -5; found=1; fi
done
# The patterns are looked for in our logs only: moto's own access logs (moto*.log) record the
# request line of every call, presigned URLs (query signatures) included, as any HTTP server's
# access log would; the secrets above are looked for everywhere.
mapfile -t ours < <(printf '%s\n' "${files[@]}" | grep -v '/moto[^/]*\.log$')
for pattern in 'Signature=[0-9a-f]{16}' 'X-Amz-Security-Token[=:] *[A-Za-z0-9/+]{8}' 'Bearer [A-Za-z0-9._-]{6}'; do
  hits=$(grep -E -- "$pattern" "${ours[@]}" | grep -v -F '#expect' || true)
  if [ -n "$hits" ]; then echo "FOUND /$pattern/:"; echo "$hits" | head -5; found=1; fi
done
echo "searched ${#files[@]} files, $lines lines, for ${#secrets[@]} secrets (everywhere) and 3 patterns (in the ${#ours[@]} non-moto logs); kept in $OUT"
[ $found = 0 ] && echo "OK: no secret in any log line" || echo "FAILED"
exit $found
