#!/usr/bin/env python3
"""An evaluator for `dotnet merge tune` whose optimum is known: the score of a candidate model is minus its distance
from a target built from known weights,

    target = base + sum_i t_i * (model_i - base)
    score  = -||candidate - target|| / ||target - base||     (over every tensor of the base, float64)

so a task-arithmetic search over the weights of model_i peaks at w_i = t_i, with a score of about 0 there (the
candidate is rounded to its dtype, the target is not). Python's standard library only: it reads safetensors itself
(F32, F16, BF16).

    python3 distance_eval.py CANDIDATE --base DIR --target DIR=WEIGHT [--target DIR=WEIGHT ...]

Used with the demo (docs/tune.md):

    dotnet merge tune tune-demo.yaml -o best --budget 25 --strategy grid \\
      --eval "python3 docs/tune/distance_eval.py {model} --base models/base --target models/chat=0.75 --target models/math=0.25 --target models/code=0.5"
"""
import argparse
import array
import json
import math
import os
import struct
import sys


def tensors(directory):
    """{name: (file, dtype, begin, end)} of a model directory (one file or an index of shards)."""
    index = os.path.join(directory, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    found = {}
    for name in files:
        path = os.path.join(directory, name)
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        for key, info in header.items():
            if key != "__metadata__":
                begin, end = info["data_offsets"]
                found[key] = (path, info["dtype"], 8 + length + begin, 8 + length + end)
    return found


def read(entry):
    """A tensor's values as an array of float32 (exact for F32, F16 and BF16)."""
    path, dtype, begin, end = entry
    with open(path, "rb") as f:
        f.seek(begin)
        raw = f.read(end - begin)
    values = array.array("f")
    if dtype == "F32":
        values.frombytes(raw)
    elif dtype == "BF16":  # a bf16 is the high half of a float32
        wide = bytearray(2 * len(raw))
        wide[2::4], wide[3::4] = raw[0::2], raw[1::2]
        values.frombytes(bytes(wide))
    elif dtype == "F16":
        values.extend(struct.unpack("<%de" % (len(raw) // 2), raw))
    else:
        sys.exit(f"distance_eval.py: {path}: dtype {dtype} is not read by this example")
    if sys.byteorder != "little":
        values.byteswap()
    return values


def main():
    parser = argparse.ArgumentParser(description="Score a model by minus its relative distance from base + sum t_i (model_i - base).")
    parser.add_argument("candidate")
    parser.add_argument("--base", required=True)
    parser.add_argument("--target", action="append", required=True, metavar="DIR=WEIGHT")
    args = parser.parse_args()
    targets = []
    for item in args.target:
        directory, _, weight = item.rpartition("=")
        weight = float(weight)
        if not directory or not math.isfinite(weight):
            sys.exit(f"distance_eval.py: --target {item}: expected DIR=WEIGHT with a finite weight")
        targets.append((tensors(directory), weight))
    base, candidate = tensors(args.base), tensors(args.candidate)
    distance = moved = 0.0
    for name, entry in base.items():
        if entry[1] not in ("F32", "F16", "BF16"):
            continue
        b, c = read(entry), read(candidate[name])
        models = [(read(t[name]), w) for t, w in targets]
        for k in range(len(b)):
            delta = sum(w * (m[k] - b[k]) for m, w in models)
            distance += (c[k] - b[k] - delta) ** 2
            moved += delta * delta
    if moved == 0:
        sys.exit("distance_eval.py: the target equals the base; give targets that differ from it")
    print(f"distance {math.sqrt(distance):.6g}, target's distance from the base {math.sqrt(moved):.6g}", file=sys.stderr)
    print(repr(-math.sqrt(distance / moved)))


if __name__ == "__main__":
    main()
