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


def cmd_prepare(a) -> None:
    from .data.prepare import prepare_dataset
    from .data.releases import get_source

    spec = get_source(a.dataset, a.overrides)
    prepare_dataset(spec, a.out, a.downloads, a.lock, retries=a.retries, timeout_s=a.timeout,
                    progress=not a.quiet)


def cmd_features_files(a) -> None:
    from .features.image_files import extract_index_features
    from .runinfo import resolve_device

    _set_threads(a.threads)
    summary = extract_index_features(a.raw, a.out, a.config, device=resolve_device(a.device), workers=a.workers,
                                     shard_size=a.shard_size, skip_unreadable=a.skip_unreadable,
                                     decode=a.decode, progress=not a.quiet)
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"} | {"skipped": len(summary["skipped"])}))


def cmd_features(a) -> None:
    from .features.extract import extract_features
    from .runinfo import resolve_device

    _set_threads(a.threads)
    extract_features(a.raw, a.backbone, a.config, a.out, device=resolve_device(a.device), progress=not a.quiet,
                     workers=a.workers)


def cmd_index_images(a) -> None:
    from .data.image_folder import index_image_folder

    manifest = index_image_folder(a.dataset, a.config, a.out)
    counts = ", ".join(f"{t} {n}" for t, n in manifest["samples_per_task"].items())
    print(f"{a.out}: {len(manifest['classes'])} classes; images per task: {counts}")


def cmd_import_features(a) -> None:
    from .data.feature_file import import_features

    meta = import_features(a.dataset, a.config, a.out)
    files = ", ".join(f"{t}: {f['file']} ({f['sha256'][:12]})" for t, f in meta["source"]["files"].items())
    print(f"{a.out}: {meta['feature_dim']}-d features, {meta['num_samples']} samples from {files}")


def cmd_splits(a) -> None:
    from .features.table import read_features
    from .io import sha256_file
    from .splits import make_split, write_split

    ft = read_features(a.features, columns=("sample_id", "task", "label"))
    df = make_split(ft.sample_id, ft.task, ft.label, a.ratio, a.seed)
    h = write_split(a.out, df, a.ratio, a.seed, source={"features": a.features, "features_sha256": sha256_file(a.features)})
    print(f"{a.out}: {(df.split == 'train').sum()} train / {(df.split == 'test').sum()} test, content sha256 {h[:12]}")


def cmd_published_split(a) -> None:
    from .config import build_dataclass
    from .data.raw import load_raw
    from .published_splits import SplitListConfig, published_split
    from .splits import write_split

    cfg = build_dataclass(SplitListConfig, a.config, "split_lists")
    raw = load_raw(a.raw)
    df, source = published_split(cfg, a.ratio, raw.sample_id, raw.task, raw.label, raw.manifest["classes"])
    h = write_split(a.out, df, a.ratio, None, source=source)
    print(f"{a.out}: {(df.split == 'train').sum()} train / {(df.split == 'test').sum()} test "
          f"from the lists in {cfg.lists}, content sha256 {h[:12]}")


def cmd_audit_splits(a) -> None:
    import pandas as pd

    from .config import build_dataclass
    from .io import read_json
    from .published_splits import SplitListConfig, audit_lists, write_audit

    frames = []
    for name, values in a.config.items():
        cfg = build_dataclass(SplitListConfig, values, f"split_lists.{name}")
        sizes = None
        if cfg.dataset and a.raw_root and (Path(a.raw_root) / cfg.dataset / "manifest.json").exists():
            sizes = read_json(Path(a.raw_root) / cfg.dataset / "manifest.json")["samples_per_task"]
        frames.append(audit_lists(cfg, name, a.ratios, domain_sizes=sizes))
    audit = pd.concat(frames, ignore_index=True)
    write_audit(audit, a.out_stem)
    flagged = audit[audit.round_lt_classes]
    print(f"{a.out_stem}.md: {len(audit)} (list, ratio, task) rows; round(ratio x N) < classes in "
          f"{len(flagged)}: " + ", ".join(f"{r.dataset} {r.ratio:g} {r.task}" for r in flagged.itertuples()))


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
    from .report.tables import write_tables

    write_tables(a.runs, a.out_dir, a.dataset, a.tasks, a.methods, a.ratios, a.metrics)


def cmd_figure(a) -> None:
    from .report.tables import write_figure

    write_figure(a.runs, a.out, a.dataset, a.metric, a.methods)


def cmd_paper_compare(a) -> None:
    from .report.paper_comparison import comparison_markdown, write_comparison

    letters = dict(item.split("=", 1) for item in a.tasks)
    text = comparison_markdown(a.runs, a.paper, a.dataset, a.paper_dataset, letters, a.methods, a.ratios,
                               a.differences)
    write_comparison(a.out, text)
    print(f"{a.out}: {len(a.ratios)} tables, {len(a.runs)} runs")


def cmd_paper_tables(a) -> None:
    from .report.paper import write_paper_comparison

    for path in write_paper_comparison(a.runs, a.out_dir, a.dataset, a.tasks, a.ratios, a.paper_csv):
        print(path)


def cmd_train_seeds(a) -> None:
    from .gpu import claim_gpu

    if len(a.splits) != len(a.seeds) or len(a.out) != len(a.seeds):
        raise SystemExit("mtlbench train-seeds: --splits, --seeds and --out need one entry per seed")
    # claim a GPU before anything initialises CUDA
    with claim_gpu(a.gpu_lock_dir) if a.gpu_lock_dir else _null():
        _set_threads(a.threads)
        from .train import run_seeds

        records = run_seeds(a.features, a.splits, a.out, dataset=a.dataset, tasks=a.tasks, method=a.method,
                            algorithm=a.algorithm or a.method, hparams=a.hparams, ratio=a.ratio, seeds=a.seeds,
                            device=a.device, progress=not a.quiet)
    for rec, out in zip(records, a.out):
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


def cmd_gpu_slots(a) -> None:
    import os

    from .gpu import visible_gpus

    # without GPUs, training runs on the CPU and the gpu resource must not gate it
    print(len(visible_gpus()) or os.cpu_count() or 1)
def cmd_relation_heatmap(a) -> None:
    from .report.relation_figures import plot_relation_heatmaps

    plot_relation_heatmaps(a.runs, a.out, relation=a.relation, methods=a.methods or None)
    print(f"{a.out}: {a.relation} of {len(a.runs)} runs")


def cmd_tsne(a) -> None:
    from .report.relation_figures import plot_feature_tsne

    plot_feature_tsne(a.run, a.out, samples_per_task=a.samples, perplexity=a.perplexity, seed=a.seed,
                      max_iter=a.iterations, threads=a.threads)
    print(f"{a.out}: t-SNE of {a.run}")


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

    s = sub.add_parser("gpu-slots", help="print the value for snakemake --resources gpu=N on this machine")
    s.set_defaults(fn=cmd_gpu_slots)

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
    s.add_argument("--workers", type=int, default=0, help="DataLoader processes decoding image files (image_folder)")
    s.set_defaults(fn=cmd_features)

    s = sub.add_parser("index-images", help="raw stage of an image_folder dataset: list the images (no decoding)")
    s.add_argument("--dataset", required=True)
    s.add_argument("--config", type=_json_arg, required=True, help="the dataset entry's keys as JSON (root, subdir, ...)")
    s.add_argument("--out", required=True, help="data/raw/{dataset}")
    s.set_defaults(fn=cmd_index_images)

    s = sub.add_parser("import-features", help="a feature_file dataset -> features table (no backbone)")
    s.add_argument("--dataset", required=True)
    s.add_argument("--config", type=_json_arg, required=True,
                   help="the dataset entry's keys as JSON (path, format, files, ...; `mtlbench check` prints them as 'source')")
    s.add_argument("--out", required=True, help="data/features/{dataset}/precomputed.parquet")
    s.set_defaults(fn=cmd_import_features)

    s = sub.add_parser("prepare", help="download, verify, extract and index a real dataset")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument("--dataset", required=True, help="office_home | office_caltech | image_clef | domainnet | amtnn_digits")
    s.add_argument("--out", required=True, help="data/raw/{dataset}")
    s.add_argument("--downloads", default=None, help="archive folder (default: data/raw/downloads beside --out)")
    s.add_argument("--lock", default=None, help="sha256 lock file (default: data/raw/downloads.lock.json)")
    s.add_argument("--overrides", type=_json_arg, default={},
                   help="params datasets.<name>.download as JSON: {sources: {file: {urls, md5, sha256}}, expected_counts}")
    s.add_argument("--retries", type=int, default=3, help="tries per mirror")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds without data before a try fails")
    s.set_defaults(fn=cmd_prepare)

    s = sub.add_parser("features-files", parents=[common], help="image files (index.parquet) -> VGG16 fc7 table, sharded")
    s.add_argument("--raw", required=True, help="data/raw/{dataset} with index.parquet")
    s.add_argument("--out", required=True, help="data/features/{dataset}/vgg16_fc7.parquet")
    s.add_argument("--config", type=_json_arg, default={}, help="backbones.vgg16_fc7 settings as JSON")
    s.add_argument("--workers", type=int, default=4, help="DataLoader decode workers")
    s.add_argument("--shard-size", type=int, default=4096, help="images per resumable shard")
    s.add_argument("--skip-unreadable", action="store_true", help="leave unreadable images out (listed in the metadata)")
    s.add_argument("--decode", choices=("cpu", "cuda"), default="cpu", help="cuda: JPEG decode on the GPU")
    s.set_defaults(fn=cmd_features_files)

    s = sub.add_parser("splits", help="features table -> stratified split for one (ratio, seed)")
    s.add_argument("--features", required=True)
    s.add_argument("--ratio", type=float, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_splits)

    s = sub.add_parser("published-split", help="published split lists -> our split file for one ratio")
    s.add_argument("--raw", required=True, help="data/raw/{dataset} of the image_folder dataset the lists name")
    s.add_argument("--config", type=_json_arg, required=True, help="the split_lists entry as JSON")
    s.add_argument("--ratio", type=float, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_published_split)

    s = sub.add_parser("audit-splits", help="audit table of published split lists (md, csv)")
    s.add_argument("--config", type=_json_arg, required=True, help="the split_lists section as JSON {name: entry}")
    s.add_argument("--ratios", type=lambda t: [float(x) for x in t.split(",")], required=True)
    s.add_argument("--raw-root", default=None, help="data/raw: domain sizes from each entry's dataset manifest")
    s.add_argument("--out-stem", required=True, help="e.g. results/tables/split_audit (.md and .csv written)")
    s.set_defaults(fn=cmd_audit_splits)

    s = sub.add_parser("paper-compare", help="run JSONs + the paper's CSV -> Markdown tables side by side")
    s.add_argument("--runs", nargs="+", required=True)
    s.add_argument("--paper", required=True, help="../shared/paper/vmtl_tables.csv")
    s.add_argument("--dataset", required=True)
    s.add_argument("--paper-dataset", required=True, help="the paper CSV's dataset id, e.g. office_caltech")
    s.add_argument("--tasks", type=_csv_list, required=True, help="our task=paper column, e.g. amazon=A,dslr=D,webcam=W")
    s.add_argument("--methods", type=_csv_list, required=True)
    s.add_argument("--ratios", type=lambda t: [float(x) for x in t.split(",")], required=True)
    s.add_argument("--differences", default="", help="caption text naming what differs from the paper")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_paper_compare)

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
    s.set_defaults(fn=cmd_tables)

    s = sub.add_parser("figure", help="run JSONs -> average metric vs train ratio (PNG)")
    s.add_argument("--runs", nargs="+", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--metric", default="accuracy")
    s.add_argument("--methods", type=_csv_list, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_figure)
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
    s.add_argument("--gpu-lock-dir", default=None, help="claim one GPU through a lock in this folder")
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

    s = sub.add_parser("relation-heatmap", help="run JSONs -> heat map of a learned relation per method (PNG)")
    s.add_argument("--runs", nargs="+", required=True)
    s.add_argument("--relation", default="alpha", help="relation name in the runs (alpha, divergence, task_covariance)")
    s.add_argument("--methods", type=_csv_list, default=None, help="labels to show, in order (default: all)")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_relation_heatmap)

    s = sub.add_parser("tsne", help="one run JSON with extra.embedding -> t-SNE of learned features by task (PNG)")
    s.add_argument("--run", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--samples", type=int, default=None, help="samples per task (default: all stored)")
    s.add_argument("--perplexity", type=float, default=30.0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--iterations", type=int, default=1000, help="t-SNE optimisation steps (>= 250)")
    s.add_argument("--threads", type=int, default=None, help="cap on OpenMP/BLAS threads")
    s.set_defaults(fn=cmd_tsne)
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
