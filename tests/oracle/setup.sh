#!/usr/bin/env bash
# Creates the reference (oracle) virtual environment for transnar's parity tests.
#
#   bash tests/oracle/setup.sh ~/.cache/transnar/oracle-venv
#   export TRANSNAR_REFERENCE_PYTHON=~/.cache/transnar/oracle-venv/bin/python
#
# Installs the exact pins of requirements.txt (dm-clrs 2.0.3 with CPU JAX and
# TensorFlow, which `import clrs` needs; about 3 GB) without dependency
# resolution, then checks that the reference imports and samples. Keep the
# environment outside the clone so that it survives fresh clones.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 TARGET_DIR" >&2
  exit 2
fi
target=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-python3}

if [ -e "$target" ]; then
  echo "error: $target already exists; remove it or choose another directory" >&2
  exit 1
fi
rm -rf "$target.partial"
"$python" -m venv "$target.partial"
"$target.partial/bin/python" -m pip install --quiet --upgrade pip
"$target.partial/bin/python" -m pip install --quiet --no-deps -r "$here/requirements.txt"
"$target.partial/bin/python" -m pip check
TF_CPP_MIN_LOG_LEVEL=3 "$target.partial/bin/python" -c '
import clrs
from clrs._src.specs import CLRS_30_ALGS
sampler, spec = clrs.build_sampler("bfs", num_samples=4, length=8, seed=0)
assert len(CLRS_30_ALGS) == 30 and sampler.next().outputs[0].data.shape == (4, 8)
print("reference clrs", clrs.__version__, "ready")
'
mv "$target.partial" "$target"
