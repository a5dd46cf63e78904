"""The `kerasnets` command: list the registered networks, describe one.

    kerasnets list [PATTERN] [--family F]
    kerasnets info NAME [--input-size H W] [--table] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cmd_list(args) -> int:
    from kerasnets.registry import get_spec, list_models

    names = list_models(args.pattern, family=args.family)
    if not names:
        print(f"no registered model matches {args.pattern or '*'!r}", file=sys.stderr)
        return 1
    width = max(len(n) for n in names)
    for name in names:
        spec = get_spec(name)
        shape = "x".join(str(d) for d in spec.input_shape)
        print(f"{name:<{width}}  {spec.family:<10} {shape:<11} {spec.params:>13,}  "
              f"{spec.description}")
    return 0


def _cmd_info(args) -> int:
    from kerasnets.profile import profile
    from kerasnets.registry import get_spec

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
    if args.table:
        print()
        print(prof.table(only_nonzero=True))
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasnets",
        description="The classic image-classification CNNs for Keras 3, faithful to their papers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list the registered networks")
    p_list.add_argument("pattern", nargs="?", default=None,
                        help="glob pattern on the names, e.g. 'vgg*'")
    p_list.add_argument("--family", default=None, help="only this family (vgg, alexnet, ...)")
    p_list.set_defaults(func=_cmd_list)

    p_info = sub.add_parser(
        "info", help="paper, input size, parameters and multiply-adds of one network"
    )
    p_info.add_argument("name", help="a registered name or alias")
    p_info.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                        help="count at this input size (default: the paper's)")
    p_info.add_argument("--table", action="store_true",
                        help="also print the per-layer parameters and multiply-adds")
    p_info.add_argument("--json", action="store_true", help="print the facts as JSON")
    p_info.set_defaults(func=_cmd_info)
    return parser


def main(argv=None) -> int:
    _quiet_tensorflow()
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"kerasnets {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
