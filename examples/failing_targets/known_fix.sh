#!/bin/sh
# A scripted `command` proposer for the examples: it reads pp's request (JSON on stdin) and
# answers with the known fix for the example it runs in (pp runs proposers in the sandbox, whose
# folder has the example's name). Use it to see a whole proof without a model:
#   pp run "python3 -m unittest discover -s tests -v" --provider command:../known_fix.sh
cat > /dev/null
here=$(cd "$(dirname "$0")" && pwd)
fix="$here/fixes/$(basename "$PWD").diff"
if [ -f "$fix" ]; then
  cat "$fix"
else
  echo "no known fix for $(basename "$PWD")" >&2
  exit 1
fi
