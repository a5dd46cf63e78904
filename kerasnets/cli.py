"""The `kerasnets` command: list the registered networks, describe one, export one.

    kerasnets list [PATTERN] [--family F] [--presets]
    kerasnets info NAME [--input-size H W] [--table] [--json]
    kerasnets export MODEL_OR_FILE --format saved_model|tflite
                     [--quantize float16|dynamic|int8] [--out DIR] [--overwrite] ...
    kerasnets index [--write | --check]
    kerasnets --version

The parser, the static index and the printing of `list` are in
:mod:`kerasnets.console`, which the console script's light front
(`kerasnets_cli`) loads without importing the package, so that `--help`,
`--version` and `list` answer at once; this module runs every command with
the package imported. The index is the live registry
(`kerasnets.registry.index`) with the package version, written by
`kerasnets index --write`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import keras
import numpy as np

from kerasnets import __version__
from kerasnets.console import (  # noqa: F401  (the index's names, for the tests and tools)
    INDEX_COMMAND,
    INDEX_FILE,
    format_index,
    print_models,
    read_index,
)
from kerasnets.console import make_parser as _parser
from kerasnets.data.sources import digits
from kerasnets.export.converted import convert_weights
from kerasnets.export.formats import export_all, target_paths
from kerasnets.export.files import write_text
from kerasnets.export.metadata import model_preprocessing, weights_info
from kerasnets.export.provenance import read_labels, training_record
from kerasnets.logs import one_line_warnings
from kerasnets.models.pretrained import WeightsDownloadError, is_tag
from kerasnets.profile import profile
from kerasnets.registry import (
    default_tag,
    get_spec,
    index,
    list_models,
    normalization_for,
    weights_tags,
)


def static_index() -> dict:
    """What `kerasnets index --write` writes to INDEX_FILE: the version and the live registry."""
    return {"generated_by": INDEX_COMMAND, "version": __version__, "models": index()}


def _cmd_list(args) -> int:
    if args.markdown:
        if not args.pretrained:
            raise ValueError("--markdown prints the weights table: use it with --pretrained")
        print(weights_markdown(list_models(args.pattern, args.family, pretrained=True)), end="")
        return 0
    return print_models(index(), args.pattern, args.family, args.presets, args.pretrained)


def weights_markdown(names) -> str:
    """The published weights of `names` as a Markdown table, one row per tag."""
    lines = ["| network | tag | source | top-1 (%) | input | licence |",
             "|---|---|---|---|---|---|"]
    for name in names:
        default = default_tag(get_spec(name))
        rows = [(name, tag, published) for tag, published in weights_tags(name).items()]
        shown = [published for _, _, published in rows]
        # Presets' own converted checkpoints (ShuffleNet g = 8), not keras.applications'
        # per-size MobileNet files (one row stands for them).
        for preset in list_models(include_aliases=True):
            if get_spec(preset).alias_of != name:
                continue
            for tag, published in get_spec(preset).published_weights.items():
                if published.format != "keras" and published.top not in [
                        other.top for other in shown]:
                    rows.append((preset, tag, published))
                    shown.append(published)
        for network, tag, published in rows:
            size = published.input_size or get_spec(network).input_shape[:2]
            mark = f"`{tag}` (imagenet)" if (network, tag) == (name, default) and (
                tag != "imagenet") else f"`{tag}`"
            top1 = "-" if published.top1 is None else f"{published.top1:.2f}"
            lines.append(f"| {network} | {mark} | {published.source} | {top1} | "
                         f"{'x'.join(map(str, size))} | {published.licence} |")
    return "\n".join(lines) + "\n"


def _cmd_index(args) -> int:
    live = static_index()
    if args.write:
        write_text(INDEX_FILE, format_index(live))
        print(f"wrote {INDEX_FILE} ({len(live['models'])} models)")
        return 0
    if args.check:
        try:
            stale = read_index(INDEX_FILE) != live
        except (OSError, ValueError):
            stale = True
        if stale:
            print(f"kerasnets index: error: {INDEX_FILE} differs from the registry; run "
                  f"`{INDEX_COMMAND}`", file=sys.stderr)
            return 1
        print(f"{INDEX_FILE} is up to date ({len(live['models'])} models)")
        return 0
    print(format_index(live), end="")
    return 0


def _cmd_info(args) -> int:
    spec = get_spec(args.name)
    kwargs = {}
    if args.input_size:
        h, w = args.input_size
        kwargs["input_shape"] = (h, w, spec.input_shape[2])
        if spec.fixed_input and (h, w) != spec.input_shape[:2]:
            kwargs["include_top"] = False
    model = spec.build(**kwargs)
    prof = profile(model)
    info = spec.info()
    info.update(
        built_input_shape=tuple(model.input_shape[1:]),
        built_parameters=prof.params,
        trainable_parameters=prof.trainable_params,
        multiply_adds=prof.macs,
    )
    if args.json:
        print(json.dumps(info, indent=2, default=list))
        return 0
    paper = spec.paper
    print(f"{spec.name}: {spec.description}")
    print(f"  family        {spec.family}")
    print(f"  paper         {paper.authors} ({paper.year}), \"{paper.title}\"")
    if paper.url:
        print(f"  url           {paper.url}")
    print(f"  input         {'x'.join(map(str, info['built_input_shape']))} "
          f"(default {'x'.join(map(str, spec.input_shape))}, "
          f"minimum {'x'.join(map(str, spec.min_input_shape))})")
    print(f"  classes       {spec.num_classes}")
    print(f"  parameters    {prof.params:,} ({prof.trainable_params:,} trainable)")
    print(f"  multiply-adds {prof.macs:,} ({prof.macs / 1e9:.3f} G)")
    print(f"  preprocessing {spec.preprocessing}")
    if spec.aliases:
        print(f"  aliases       {', '.join(spec.aliases)}")
    print_weights(spec.name)
    if args.table:
        print()
        print(prof.table(only_nonzero=True))
    return 0


def print_weights(name) -> None:
    """The published checkpoints of `name`: tag, source, top-1, size, crop, licence."""
    tags = weights_tags(name)
    if not tags:
        print("  weights       none published (weights=None, or a file you trained)")
        return
    default = default_tag(get_spec(name))
    print(f"  weights       {len(tags)} tag(s); weights=\"imagenet\" loads {default!r}")
    rows = [("tag", "source", "top-1", "input", "crop", "licence")]
    for tag, published in tags.items():
        size = published.input_size or get_spec(name).input_shape[:2]
        rows.append((tag, published.source,
                     "-" if published.top1 is None else f"{published.top1:.2f}",
                     "x".join(map(str, size)),
                     "-" if published.crop_fraction is None else f"{published.crop_fraction:g}",
                     published.licence or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("    " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _cmd_convert(args) -> int:
    result = convert_weights(args.name, args.weights, args.out, checkpoint=args.checkpoint,
                             overwrite=args.overwrite)
    arguments = ", ".join(f"{key}={value!r}" for key, value in result.build_arguments.items()
                          if key != "weights")
    print(f"wrote {result.path} (sha256 {result.sha256})")
    print(f"wrote {result.description_path}")
    print(f"load it with: kerasnets.build({args.name!r}, weights={result.path!r}"
          f"{', ' + arguments if arguments else ''})")
    return 0


EXPORT_SUFFIX = {"float32": "", "float16": "_float16", "dynamic": "_dynamic", "int8": "_int8"}


def export_target(out, name, fmt, quantize):
    """(format key of `export_all`, path) of what `kerasnets export` writes: DIR/NAME/
    (SavedModel) or DIR/NAME[_QUANT].tflite."""
    if fmt == "saved_model":
        return "saved_model", os.path.join(out, name)
    key = "tflite" + EXPORT_SUFFIX[quantize]
    return key, os.path.join(out, f"{name}{EXPORT_SUFFIX[quantize]}.tflite")


def _is_file_source(source):
    return source.endswith(".keras") or os.path.isfile(source)


def _export_plan(args):
    """Everything `kerasnets export` decides before the (slow) model load, checked.

    A refused export ends here, before any work: an unknown name, a missing file,
    an existing output without --overwrite, unreadable labels, calibration that
    does not fit the model's training data.
    """
    plan = argparse.Namespace(record=None, spec=None)
    quantize = args.quantize or "float32"
    if args.format == "saved_model" and args.quantize:
        raise ValueError("--quantize applies to --format tflite only")
    if args.calibration is not None and quantize != "int8":
        raise ValueError("--calibration applies to --quantize int8 only")
    if _is_file_source(args.model):
        if not os.path.isfile(args.model):
            raise ValueError(f"no such model file: {args.model}")
        plan.record = training_record(args.model)
        plan.name = os.path.splitext(os.path.basename(args.model))[0]
    else:
        plan.spec = get_spec(args.model)
        plan.name = plan.spec.name
    plan.quantize = quantize
    plan.key, plan.path = export_target(args.out, plan.name, args.format, quantize)
    plan.targets = target_paths(plan.key, plan.path)
    if not args.overwrite:
        for path in plan.targets:
            if os.path.lexists(path):
                raise FileExistsError(f"{path} already exists; pass --overwrite to replace it")

    plan.class_names, plan.labels_source = None, None
    if args.labels:
        if not os.path.isfile(args.labels):
            raise ValueError(f"--labels: no such file {args.labels!r}")
        plan.class_names, plan.labels_source = read_labels(args.labels), args.labels
    elif plan.record is not None and plan.record.class_names is not None:
        plan.class_names = list(plan.record.class_names)
        plan.labels_source = plan.record.labels_path

    plan.calibration = None
    if quantize == "int8":
        plan.calibration = _calibration_plan(args, plan)
    plan.weights = _weights_plan(args, plan)
    return plan


def _calibration_plan(args, plan):
    """("digits" or an .npy path, words for the metadata): the int8 calibration images."""
    chosen = args.calibration
    if chosen is not None and chosen != "digits":
        if not os.path.isfile(chosen):
            raise ValueError(f"--calibration: no such file {chosen!r} (an .npy array of "
                             f"preprocessed images, or 'digits')")
        return chosen, f"{chosen} (--calibration)"
    digits = ("the training split of scikit-learn's handwritten digits "
              "(kerasnets.data.digits), resized to the model's input")
    if chosen == "digits":
        return "digits", f"{digits}; asked for with --calibration digits"
    record = plan.record
    if record is None:
        return "digits", f"{digits}; the default for a registered network"
    if record.data is None:
        return "digits", (f"{digits}; the default, as no training record is beside "
                          f"{args.model} (its training data is unknown)")
    if not record.trained_on_digits:
        raise ValueError(
            f"--calibration is required: {args.model} was trained on {record.data} (recorded "
            f"in {record.config_path}), and int8 ranges calibrated on the digits would not fit "
            "it; pass --calibration FILE.npy (images of that data, preprocessed as the model's "
            "inputs), or --calibration digits to use the digits anyway")
    return "digits", f"{digits}; the model's training data, recorded in {record.config_path}"


def _weights_plan(args, plan):
    """The metadata's `weights` entry: random or trained, and from where."""
    if plan.spec is None:
        record = plan.record
        if record.data is None:
            return {"random": None, "source": f"{args.model} (no training record beside it)"}
        return weights_info(False, f"{args.model}, trained on {record.data} (recorded in "
                                   f"{record.config_path})")
    chosen = plan.spec.defaults.get("weights")
    if args.weights is not None:
        chosen = None if args.weights == "none" else args.weights
    if chosen is None:
        return weights_info(True, f"random: {plan.name} built from the registry without "
                                  "trained weights")
    return weights_info(False, f"{chosen} (--weights)")


def _load_model(args, plan):
    """The model to export and its preprocessing mode."""
    if plan.spec is None:
        model = keras.saving.load_model(args.model)
        return model, args.preprocessing or model_preprocessing(model)
    spec = plan.spec
    kwargs = {}
    if args.input_size:
        kwargs["input_shape"] = (*args.input_size, spec.input_shape[2])
    if args.classes is not None:
        kwargs["classes"] = args.classes
    if args.weights is not None:
        kwargs["weights"] = None if args.weights == "none" else args.weights
    if is_tag(kwargs.get("weights"), spec.name):
        # The checkpoint's normalization (export_all's weights_tag), not the network's mode.
        return spec.build(**kwargs), args.preprocessing
    return spec.build(**kwargs), args.preprocessing or spec.preprocessing


def _calibration_data(source, model, preprocessing):
    if source != "digits":
        return np.load(source)
    height, width, channels = model.inputs[0].shape[1:]
    return digits(image_size=(height, width), channels=channels,
                  preprocessing=preprocessing or "unit").train


def _cmd_export(args) -> int:
    plan = _export_plan(args)
    weights = plan.weights
    if weights["random"]:
        print(f"weights: random ({plan.name} built from the registry, untrained): the export "
              "works, but its outputs mean nothing; pass --weights, or export a trained "
              ".keras file")
    if plan.labels_source is not None and not args.labels:
        print(f"class names: {len(plan.class_names)} from {plan.labels_source}")
    model, preprocessing = _load_model(args, plan)
    tag = args.weights if plan.spec is not None and is_tag(args.weights, plan.name) else None
    data, source = None, None
    if plan.calibration is not None:
        chosen, source = plan.calibration
        data = _calibration_data(chosen, model, preprocessing or (
            normalization_for(plan.name, tag) if tag else None))
    result = export_all(model, {plan.key: plan.path}, representative_data=data,
                        calibration_source=source, io_dtype=args.io_dtype,
                        class_names=plan.class_names, preprocessing=preprocessing,
                        overwrite=args.overwrite, verify=not args.no_verify,
                        weights=weights, weights_tag=tag,
                        network=plan.name if tag else None)[plan.key]
    if args.format == "saved_model":
        inside = ", ".join(["labels.txt"] * (result.labels_path is not None) + ["metadata.json"])
        print(f"wrote SavedModel {result.path} ({result.size_bytes:,} bytes), with {inside} "
              "in it")
    else:
        print(f"wrote TFLite {plan.quantize} {result.path} ({result.size_bytes:,} bytes), "
              f"{result.metadata_path}"
              + (f", {result.labels_path}" if result.labels_path else ""))
        calibration = result.metadata["calibration"]
        if calibration is not None:
            print(f"int8 calibration: {calibration['images']} images of {calibration['source']}")
    check = result.verification
    if check is not None:
        print(f"verified on {check['samples']} inputs: max |difference| "
              f"{check['max_abs_diff']:.3g}, top-1 agreement {check['top1_agreement']:.2%}"
              + (" (random weights: the scores are near-equal, so the agreement says nothing)"
                 if weights["random"] else ""))
    return 0


COMMANDS = {"list": _cmd_list, "info": _cmd_info, "export": _cmd_export, "index": _cmd_index,
            "convert": _cmd_convert}


def make_parser() -> argparse.ArgumentParser:
    """The command line of `kerasnets` (:func:`kerasnets.console.make_parser`), this version."""
    return _parser(__version__)


def run(args) -> int:
    """Runs the parsed command `args`; errors become one line on stderr and an exit code."""
    one_line_warnings()
    try:
        return COMMANDS[args.command](args)
    except (FileExistsError, FileNotFoundError, WeightsDownloadError, ImportError) as err:
        # An existing output, a missing input file, no network, a missing optional package.
        print(f"kerasnets {args.command}: error: {err}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"kerasnets {args.command}: error: {err}", file=sys.stderr)
        return 2


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
