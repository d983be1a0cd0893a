#!/usr/bin/env bash
# Submits a dotnet-merge merge split across a Slurm job array, and its join as a dependent job (docs/cluster.md).
#   slurm-merge.sh CONFIG.yaml OUT N [extra sbatch options...]
# OUT must be on storage every node sees. Each array task runs `run --part auto` (its index from SLURM_ARRAY_TASK_ID,
# the count from SLURM_ARRAY_TASK_COUNT); the join starts only when every task succeeded (afterok).
# Set DOTNET_MERGE to the command that starts dotnet-merge (default: dotnet merge), MERGE_OPTIONS for run options
# that every part and the join must share (e.g. "--out-shard-size 5B").
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: $0 CONFIG.yaml OUT N [sbatch options...]" >&2; exit 2; fi
config=$(realpath "$1"); out=$(realpath -m "$2"); parts=$3; shift 3
case "$parts" in ''|*[!0-9]*|0) echo "error: N must be a whole number from 1, not '$parts'" >&2; exit 2;; esac
merge=${DOTNET_MERGE:-dotnet merge}
options=${MERGE_OPTIONS:-}

# Whole-model statistics first when the merge needs them (TIES trim_scope: model); otherwise prepare writes nothing.
$merge prepare "$config" "$out" $options --no-progress

array=$(sbatch --parsable --job-name=merge-parts --array=0-$((parts - 1)) "$@" \
  --wrap "$merge run '$config' '$out' --part auto $options --no-progress")
array=${array%%;*}
join=$(sbatch --parsable --job-name=merge-join --dependency=afterok:"$array" "$@" \
  --wrap "$merge join '$out' --no-progress")
join=${join%%;*}
echo "parts: job $array (array 0-$((parts - 1))), join: job $join"
echo "$array $join" > "${SLURM_MERGE_JOBS_FILE:-/dev/null}"
