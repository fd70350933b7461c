#!/usr/bin/env bash
# Timeline files of the fusion engine: test_fusion --cases timeline writes one
# per rank ("%r" in the path) and checks their text; here each must also
# parse as JSON (python3's json.load; skipped without python3) and hold the
# phase events and a thread_name record naming a tensor; so must the file of
# a path without "%r", which rank 0 alone writes.
set -u
prog=$1
k=3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); echo "ok: $1"; else fail=$((fail+1)); echo "FAIL: $1"; fi; }

"$prog" --threads $k --cases timeline --dir "$dir" --keep
rc=$?
check "test_fusion --cases timeline (rc=$rc)" '[ "$rc" -eq 0 ]'
for r in $(seq 0 $((k-1))); do
    check "rank $r wrote $dir/timeline.$r.json" '[ -s "$dir/timeline.$r.json" ]'
done

py=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1; then py=$p; break; fi
done
if [ -z "$py" ]; then
    echo "python3 not found: JSON parsing skipped"
else
    for r in $(seq 0 $((k-1))) single; do
        f="$dir/timeline.$r.json"
        [ "$r" = single ] && f="$dir/timeline-rank0.json"
        msg=$("$py" - "$f" 2>&1 <<'EOF'
import json, sys
with open(sys.argv[1]) as fh:
    doc = json.load(fh)
ev = doc["traceEvents"] if isinstance(doc, dict) else doc
if not isinstance(ev, list) or not ev:
    sys.exit("no events")
names = {e.get("name") for e in ev if isinstance(e, dict)}
need = ["NEGOTIATE", "ALLREDUCE", "COMPRESS", "DECOMPRESS",
        "MEMCPY_IN_FUSION_BUFFER", "MEMCPY_OUT_FUSION_BUFFER"]
if sys.argv[1].endswith("rank0.json"):
    need = ["NEGOTIATE", "ALLREDUCE"]  # one uncompressed tensor
missing = [n for n in need if n not in names]
if missing:
    sys.exit("missing events: %s (have %s)" % (missing, sorted(n for n in names if n)))
tn = [e for e in ev if isinstance(e, dict) and e.get("ph") == "M"
      and e.get("name") == "thread_name"
      and str(e.get("args", {}).get("name", "")).startswith("tl.")]
if not tn:
    sys.exit("no thread_name metadata record naming a tensor")
for e in ev:
    if isinstance(e, dict) and e.get("ph") in ("B", "E", "X", "i", "I"):
        if not isinstance(e.get("ts"), (int, float)):
            sys.exit("event without a numeric ts: %r" % (e,))
print("%d events, %d thread names" % (len(ev), len(tn)))
EOF
)
        prc=$?
        echo "timeline $r: $msg"
        check "timeline $r: parses as JSON with the phase events" '[ "$prc" -eq 0 ]'
    done
fi
echo "fusion_timeline: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
