"""Write small random PNASNet-like cell networks into tests/data/cells/.

They feed the property test of the approximate rewrites
(``tests/rewrite/test_approximate_cells.py``): every cell ends in a channel
concat read by the next cells' 1x1 convolutions, the pattern the channel-wise
split works on, and the early maps are tall enough for row strips.

* ``pnas_{seed}_{float,int8}.tflite``: :func:`pnas_nets.random_net` of the
  seed (16x16 input, 4 channels, 2-4 blocks, 2-4 cells, sometimes
  the last a reduction cell), float32 and full int8.
* ``pnas_strips_float.tflite``: the network of issue 17 point 8, where
  ``--rewrite-approximate`` stopped with "operator 20 would run before
  operator 78, which it depends on": two runs in row strips, the second taken
  out of the order in one piece (``strip_search._in_one_piece``).

``GENOTYPES.json`` records each file's network. Same TensorFlow version, same
bytes (fixed seeds, see ``modelkit.seed_everything``).

Examples
--------
python -m scripts.models.make_cell_models             # all files (about 40 s)
python -m scripts.models.make_cell_models --seeds 0-3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scripts import ROOT
from scripts.models import modelkit, pnas_nets
from scripts.models.pnas_nets import Block, CellNet

OUT = ROOT / "tests" / "data" / "cells"
SEEDS = range(12)
#: The network of the regression file, found by a random search (seed 24).
STRIPS_NET = CellNet((Block(1, "sep_5x5", 1, "sep_5x5"), Block(0, "sep_7x7", 0, "sep_3x3")),
                     cells=6, channels=5, input_size=16)
STRIPS_SEED = 24


def convert(net: CellNet, seed: int, int8: bool) -> dict[str, bytes]:
    """Seed, build, recalibrate, then convert to float32 (and full int8)."""
    modelkit.seed_everything(seed)
    model = pnas_nets.pnas(net)
    shape = modelkit.input_shape(model)[1:]
    modelkit.recalibrate(model, modelkit.random_inputs(shape, 8, seed + 1))
    out = {"float": modelkit.to_float_tflite(model)}
    if int8:
        out["int8"] = modelkit.to_int8_tflite(model, modelkit.random_inputs(shape, 8, seed + 2))
    return out


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=_seeds, default=list(SEEDS), help="e.g. 0-11 (default) or 5")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    index = args.out / "GENOTYPES.json"
    genotypes = json.loads(index.read_text()) if index.is_file() else {}
    jobs = [(f"pnas_{seed}", pnas_nets.random_net(seed), seed, True) for seed in args.seeds]
    jobs.append(("pnas_strips", STRIPS_NET, STRIPS_SEED, False))
    for stem, net, seed, int8 in jobs:
        for variant, data in convert(net, seed, int8).items():
            path = args.out / f"{stem}_{variant}.tflite"
            path.write_bytes(data)
            genotypes[path.name] = {"seed": seed, "cells": net.cells, "channels": net.channels,
                                    "input_size": net.input_size, "reductions": net.reductions, "blocks": [list(b) for b in net.blocks]}
            print(f"wrote {path.name} ({len(data)} B)", flush=True)
    index.write_text(json.dumps(dict(sorted(genotypes.items())), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
