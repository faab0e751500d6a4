"""``mtlbench``: every pipeline stage as a subcommand, with explicit arguments.

Snakemake rules call these; so can a user or a test.  Nothing here reads params.yaml
except ``mtlbench check``, which validates a params file and prints the resolved form.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import MtlbenchError


def _json_arg(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from None


def _csv_list(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def _set_threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def cmd_check(a) -> None:
    import yaml

    from .config import validate_params

    params = yaml.safe_load(Path(a.params).read_text())
    print(json.dumps(validate_params(params), indent=2))


def cmd_download(a) -> None:
    from .data.registry import get_dataset

    get_dataset(a.dataset).build(Path(a.out))


def cmd_features(a) -> None:
    from .features.extract import extract_features
    from .runinfo import resolve_device

    _set_threads(a.threads)
    extract_features(a.raw, a.backbone, a.config, a.out, device=resolve_device(a.device), progress=not a.quiet)


def cmd_splits(a) -> None:
    from .features.table import read_features
    from .io import sha256_file
    from .splits import make_split, write_split

    ft = read_features(a.features, columns=("sample_id", "task", "label"))
    df = make_split(ft.sample_id, ft.task, ft.label, a.ratio, a.seed)
    h = write_split(a.out, df, a.ratio, a.seed, source={"features": a.features, "features_sha256": sha256_file(a.features)})
    print(f"{a.out}: {(df.split == 'train').sum()} train / {(df.split == 'test').sum()} test, content sha256 {h[:12]}")


def cmd_train(a) -> None:
    from .gpu import claim_gpu

    # claim a GPU before anything initialises CUDA
    with claim_gpu(a.gpu_lock_dir) if a.gpu_lock_dir else _null():
        _set_threads(a.threads)
        from .train import run

        rec = run(a.features, a.split, a.out, dataset=a.dataset, tasks=a.tasks, method=a.method,
                  algorithm=a.algorithm or a.method, hparams=a.hparams, ratio=a.ratio, seed=a.seed,
                  device=a.device, progress=not a.quiet)
        avg = ", ".join(f"{k} {v:.4f}" for k, v in rec["metrics"]["average"].items())
        print(f"{a.out}: {avg} ({rec['wall_time_s']:.1f} s on {rec['device']['device']})")


def cmd_tables(a) -> None:
    from .report.tables import write_figure, write_tables

    write_tables(a.runs, a.out_dir, a.dataset, a.tasks, a.methods, a.ratios, a.metrics)
    if a.figure_dir:
        for metric in a.metrics:
            write_figure(a.runs, Path(a.figure_dir) / f"{a.dataset}_{metric}_vs_ratio.png", a.dataset, metric, a.methods)


def cmd_paper_tables(a) -> None:
    from .report.paper import write_paper_comparison

    for path in write_paper_comparison(a.runs, a.out_dir, a.dataset, a.tasks, a.ratios, a.paper_csv):
        print(path)


def cmd_train_seeds(a) -> None:
    _set_threads(a.threads)
    from .train import run_seeds

    if len(a.splits) != len(a.seeds) or len(a.out) != len(a.seeds):
        raise SystemExit("mtlbench train-seeds: --splits, --seeds and --out need one entry per seed")
    for rec, out in zip(run_seeds(a.features, a.splits, a.out, dataset=a.dataset, tasks=a.tasks, method=a.method,
                                  algorithm=a.algorithm or a.method, hparams=a.hparams, ratio=a.ratio, seeds=a.seeds,
                                  device=a.device, progress=not a.quiet), a.out):
        avg = ", ".join(f"{k} {v:.4f}" for k, v in rec["metrics"]["average"].items())
        print(f"{out}: {avg} ({rec['wall_time_s']:.1f} s for all seeds on {rec['device']['device']})")


def cmd_robustness(a) -> None:
    _set_threads(a.threads)
    from .robustness import fgsm_run

    out = fgsm_run(a.features, a.split, a.out, dataset=a.dataset, tasks=a.tasks, method=a.method,
                   algorithm=a.algorithm or a.method, hparams=a.hparams, ratio=a.ratio, seed=a.seed,
                   eps=a.eps, device=a.device, progress=not a.quiet)
    print(f"{a.out}: " + ", ".join(f"eps {e:g}: {v:.4f}" for e, v in out["fgsm"]["avg"].items()))


def cmd_metrics(a) -> None:
    from .report.tables import write_metrics

    write_metrics(a.runs, a.out)


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mtlbench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("check", help="validate a params file and print it resolved")
    s.add_argument("params", nargs="?", default="params.yaml")
    s.set_defaults(fn=cmd_check)

    s = sub.add_parser("download", help="build or download a dataset's raw files")
    s.add_argument("--dataset", required=True)
    s.add_argument("--out", required=True, help="data/raw/{dataset}")
    s.set_defaults(fn=cmd_download)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    common.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    common.add_argument("--quiet", action="store_true", help="no progress bars")

    s = sub.add_parser("features", parents=[common], help="raw images -> features table")
    s.add_argument("--raw", required=True)
    s.add_argument("--backbone", required=True)
    s.add_argument("--config", type=_json_arg, default={}, help="backbone settings as JSON")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_features)

    s = sub.add_parser("splits", help="features table -> stratified split for one (ratio, seed)")
    s.add_argument("--features", required=True)
    s.add_argument("--ratio", type=float, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_splits)

    s = sub.add_parser("train", parents=[common], help="train one method on one split -> run JSON")
    s.add_argument("--features", required=True)
    s.add_argument("--split", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True, help="comma-separated, in order")
    s.add_argument("--method", required=True, help="the params.yaml label of the method")
    s.add_argument("--algorithm", default=None, help="registered method name (default: --method)")
    s.add_argument("--hparams", type=_json_arg, default={}, help="hyper-parameters as JSON")
    s.add_argument("--ratio", type=float, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--gpu-lock-dir", default=None, help="claim one GPU through a lock in this folder")
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("tables", help="run JSONs -> tables (md, tex, csv) and a figure")
    s.add_argument("--runs", nargs="+", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--methods", type=_csv_list, required=True)
    s.add_argument("--ratios", type=lambda t: [float(x) for x in t.split(",")], required=True)
    s.add_argument("--metrics", type=_csv_list, default=["accuracy"])
    s.add_argument("--out-dir", required=True)
    s.add_argument("--figure-dir", default=None)
    s.set_defaults(fn=cmd_tables)

    s = sub.add_parser("paper-tables", help="run JSONs -> the VMTL paper's tables beside ours, and the audit table")
    s.add_argument("--runs", nargs="+", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--ratios", type=lambda t: [float(x) for x in t.split(",")], required=True)
    s.add_argument("--out-dir", required=True)
    s.add_argument("--paper-csv", default=None, help="default: the copy shipped in mtlbench/paperdata")
    s.set_defaults(fn=cmd_paper_tables)

    s = sub.add_parser("train-seeds", parents=[common],
                       help="train one method on several seeds' splits as one batched model -> one run JSON per seed")
    s.add_argument("--features", required=True)
    s.add_argument("--splits", nargs="+", required=True, help="one split file per seed, in --seeds order")
    s.add_argument("--seeds", type=lambda t: [int(x) for x in t.split(",")], required=True)
    s.add_argument("--out", nargs="+", required=True, help="one run JSON per seed")
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--method", required=True)
    s.add_argument("--algorithm", default=None)
    s.add_argument("--hparams", type=_json_arg, default={})
    s.add_argument("--ratio", type=float, required=True)
    s.set_defaults(fn=cmd_train_seeds)

    s = sub.add_parser("robustness", parents=[common], help="train one method, then FGSM accuracy at each eps -> JSON")
    s.add_argument("--features", required=True)
    s.add_argument("--split", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--method", required=True)
    s.add_argument("--algorithm", default=None)
    s.add_argument("--hparams", type=_json_arg, default={})
    s.add_argument("--ratio", type=float, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--eps", type=lambda t: [float(x) for x in t.split(",")], default=[0.0, 0.01, 0.05, 0.1])
    s.set_defaults(fn=cmd_robustness)

    s = sub.add_parser("metrics", help="run JSONs -> metrics.json for DVC")
    s.add_argument("--runs", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_metrics)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except MtlbenchError as e:
        print(f"mtlbench {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
