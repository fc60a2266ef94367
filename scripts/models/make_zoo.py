"""Build the benchmark zoo: float32 and full-int8 .tflite files plus zoo.json.

The zoo holds Keras application networks (untrained, ``weights=None``),
the irregular networks of ``zoo_nets.py`` and the microcontroller chains of
``mcu_nets.py`` (``zoo.py`` reads it back).  Every
model is built from a fixed seed, recalibrated (BatchNorm statistics,
classifier scale) so its int8 version runs in TFLite Micro, converted twice,
described and run in LiteRT and TFLite Micro (each in a child process).

Examples
--------
python -m scripts.models.make_zoo                 # everything into .zoo/
python -m scripts.models.make_zoo --quick         # a four-model subset, ~2 minutes
python -m scripts.models.make_zoo --only darts,unet --force --out /tmp/zoo
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tensorflow import keras

from scripts.models import mcu_nets, modelcheck, modelkit, zoo, zoo_nets

SEED = 0
CALIBRATION_BATCH = 8
REPRESENTATIVE_SAMPLES = 16


@dataclass(frozen=True)
class ZooModel:
    """One zoo entry: a name, a zero-argument Keras builder, a description and
    the variants made of it (float32 and full int8 unless told)."""

    name: str
    build: Callable[[], keras.Model]
    description: str
    variants: tuple[str, ...] = zoo.VARIANTS


def _application(factory: Callable[..., keras.Model], size: int, **options) -> Callable[[], keras.Model]:
    """Builder for a ``keras.applications`` network with random weights at ``size`` x ``size``."""
    return lambda: factory(weights=None, input_shape=(size, size, 3), **options)


def zoo_models() -> list[ZooModel]:
    """All zoo entries, in build order."""
    apps = keras.applications
    return [
        ZooModel("mobilenetv2", _application(apps.MobileNetV2, 96, alpha=0.35), "MobileNetV2 alpha 0.35, 96x96"),
        ZooModel("nasnetmobile", _application(apps.NASNetMobile, 96), "NASNet-A Mobile, 96x96"),
        ZooModel("densenet121", _application(apps.DenseNet121, 96), "DenseNet121, 96x96"),
        ZooModel("inceptionv3", _application(apps.InceptionV3, 96), "InceptionV3, 96x96 (it accepts >= 75)"),
        ZooModel("resnet50", _application(apps.ResNet50, 96), "ResNet50, 96x96"),
        ZooModel("efficientnetb0", _application(apps.EfficientNetB0, 96), "EfficientNetB0, 96x96"),
        ZooModel("randwire_ws", lambda: zoo_nets.randwire("ws"), "RandWire WS(32, 4, 0.75), 2 stages, C=32, 64x64"),
        ZooModel("randwire_er", lambda: zoo_nets.randwire("er"), "RandWire ER(32, 0.2), 2 stages, C=32, 64x64"),
        ZooModel("darts", zoo_nets.darts, "DARTS-V2 genotype, 8 cells, C=16, 32x32"),
        ZooModel("swiftnet", zoo_nets.swiftnet, "Inception-style blocks (SwiftNet-like), 6 blocks, 64x64"),
        ZooModel("unet", zoo_nets.unet, "U-Net, 3 levels, base 16, 64x64"),
        ZooModel("transformer", zoo_nets.transformer, "Transformer encoder, 2 layers, seq 32, dim 64"),
        # The chains of issue 20, compared with Arm's Vela (int8 only: Vela takes int8, and a float
        # MobileNetV2 at 224x224 would slow every benchmark that runs the whole zoo)
        ZooModel("mobilenetv2_224", _application(apps.MobileNetV2, 224, alpha=1.0),
                 "MobileNetV2 alpha 1.0, 224x224", ("int8",)),
        ZooModel("person_detection", mcu_nets.person_detection,
                 "MobileNetV1 alpha 0.25, 96x96x1, 2 classes (person detection)", ("int8",)),
        ZooModel("resnet8", mcu_nets.resnet8, "ResNet-8 of MLPerf Tiny, 32x32x3 (CIFAR-10)", ("int8",)),
    ]


def convert_model(spec: ZooModel) -> dict[str, bytes]:
    """Build, recalibrate and convert one model; returns bytes per variant of ``spec.variants``."""
    modelkit.seed_everything(SEED)
    model = spec.build()
    shape = modelkit.input_shape(model)[1:]
    modelkit.recalibrate(model, modelkit.random_inputs(shape, CALIBRATION_BATCH, SEED + 1))
    convert = {
        "float": lambda: modelkit.to_float_tflite(model),
        "int8": lambda: modelkit.to_int8_tflite(
            model, modelkit.random_inputs(shape, REPRESENTATIVE_SAMPLES, SEED + 2)),
    }
    return {variant: convert[variant]() for variant in spec.variants}


def describe_file(spec: ZooModel, variant: str, path: Path, seconds: float | None) -> dict:
    """The zoo.json entry of one file: shape, operators, which runtimes run it."""
    info = modelcheck.describe(path.read_bytes())
    checks = modelcheck.check_all(path)
    return {
        "name": spec.name,
        "variant": variant,
        "file": path.name,
        "description": spec.description,
        "op_count": info["op_count"],
        "subgraph_count": info["subgraph_count"],
        "input_shape": info["inputs"][0]["shape"],
        "input_dtype": info["inputs"][0]["dtype"],
        "operator_types": info["operator_types"],
        "bytes": info["bytes"],
        "sha256": info["sha256"],
        "runs_in": modelcheck.runs_in(checks),
        "checks": checks,
        "build_seconds": seconds,
    }


def build_entry(spec: ZooModel, out: Path, force: bool, previous: dict[str, dict]) -> list[dict]:
    """Make (or reuse) the files of ``spec`` and return their zoo.json entries."""
    paths = {v: out / f"{spec.name}_{v}.tflite" for v in spec.variants}
    start = time.perf_counter()
    if force or not all(p.exists() for p in paths.values()):
        for variant, data in convert_model(spec).items():
            paths[variant].write_bytes(data)
        seconds = round(time.perf_counter() - start, 1)
        print(f"  built {spec.name} in {seconds} s", flush=True)
    else:
        seconds = None
        print(f"  {spec.name}: files present, kept (use --force to rebuild)", flush=True)
    entries = []
    for variant, path in paths.items():
        old = previous.get(path.name)
        if seconds is None and old and old["sha256"] == modelcheck.describe(path.read_bytes())["sha256"]:
            entries.append(old)
            continue
        entries.append(describe_file(spec, variant, path, seconds))
    return entries


def load_previous(out: Path) -> dict[str, dict]:
    """Entries of an existing zoo.json in ``out`` by file name, or nothing."""
    if not (out / zoo.INDEX).exists():
        return {}
    return {e["file"]: e for e in zoo.entries(out)}


def merge(previous: dict[str, dict], entries: list[dict], out: Path) -> list[dict]:
    """The new index: the previous entries in their order (each rebuilt one replaced,
    those whose file is gone dropped), then the entries of files it did not list."""
    built = {e["file"]: e for e in entries}
    merged = [built.pop(name) if name in built else e for name, e in previous.items() if (out / name).exists()]
    return merged + list(built.values())


def select(models: list[ZooModel], only: str | None, quick: bool) -> list[ZooModel]:
    """The entries picked by ``--only`` or ``--quick`` (default: all)."""
    names = [m.name for m in models]
    wanted = only.split(",") if only else list(zoo.QUICK) if quick else names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise SystemExit(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(names)}")
    return [m for m in models if m.name in wanted]


def print_table(entries: list[dict]) -> None:
    """One line per file: operators, size, runtimes, build time."""
    print(f"{'file':32} {'ops':>5} {'KiB':>8} {'runs in':14} {'build s':>8}")
    for e in entries:
        built = "-" if e["build_seconds"] is None else f"{e['build_seconds']:.1f}"
        print(f"{e['file']:32} {e['op_count']:5d} {e['bytes'] / 1024:8.0f} {','.join(e['runs_in']):14} {built:>8}")


def main(argv: list[str] | None = None) -> int:
    """Parse flags, build the selected models, write ``zoo.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=zoo.DEFAULT, help="output folder (default: .zoo/)")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(zoo.QUICK)}")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="only these models")
    parser.add_argument("--force", action="store_true", help="rebuild files that already exist")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    index = args.out / zoo.INDEX
    previous = load_previous(args.out)
    chosen = select(zoo_models(), args.only, args.quick)
    start = time.perf_counter()
    entries = []
    for i, spec in enumerate(chosen, 1):
        print(f"[{i}/{len(chosen)}] {spec.name} ({spec.description})", flush=True)
        entries.extend(build_entry(spec, args.out, args.force, previous))
    index.write_text(json.dumps({"seed": SEED, "models": merge(previous, entries, args.out)}, indent=1) + "\n")
    print_table(entries)
    print(f"zoo: {len(entries)} files in {time.perf_counter() - start:.0f} s -> {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
