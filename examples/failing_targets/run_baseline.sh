#!/bin/sh
# Shows that every example target fails before any fix: runs each example's proof command in
# place and prints its exit code. Exits 1 if any target unexpectedly passes.
set -u
here=$(cd "$(dirname "$0")" && pwd)
status=0
for dir in name_error slug_bug unsorted_median rust_compile_error rust_logic_bug; do
  case "$dir" in
    rust_*) cmd="cargo test --offline" ;;
    *) cmd="python3 -m unittest discover -s tests -v" ;;
  esac
  tmp=$(mktemp -d)
  cp -R "$here/$dir/." "$tmp/"
  (cd "$tmp" && sh -c "$cmd" > "$tmp/.out" 2>&1)
  code=$?
  rm -rf "$tmp"
  if [ "$code" -eq 0 ]; then
    echo "$dir: PASSES (expected a failure)"
    status=1
  else
    echo "$dir: fails with exit $code, as expected"
  fi
done
exit $status
