"""``mtlbench``: every pipeline stage as a subcommand, with explicit arguments.

Snakemake rules call these; so can a user or a test.  Nothing here reads params.yaml
except ``mtlbench check``, which validates a params file and prints the resolved form.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .errors import ConfigError, MtlbenchError
from .grouping.solve import SOLVERS
from .malloc import tune_malloc
from .similarity.estimate import ESTIMATORS


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


def _schema_path(given: str | None) -> Path:
    """workflow/schemas/params.schema.yaml: given, in the working directory, or beside the sources."""
    candidates = [Path(given)] if given else [Path("workflow/schemas/params.schema.yaml"),
                                              Path(__file__).resolve().parents[2] / "workflow/schemas/params.schema.yaml"]
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(f"JSON schema not found: {', '.join(map(str, candidates))}; pass --schema PATH")


def cmd_check(a) -> None:
    from .config import check_params, config_warnings, merge_params_files, missing_inputs, summary

    files = list(a.params)
    if a.base and Path(a.base).is_file() and not any(Path(f).resolve() == Path(a.base).resolve() for f in files):
        files.insert(0, a.base)  # Snakemake reads configfile: params.yaml first, then each --configfile
    if not files:
        raise ConfigError(f"no params file: {a.base} does not exist; name one, e.g. mtlbench check params.yaml")
    merged, origin = merge_params_files(files)
    resolved = check_params(merged, origin, schema_path=_schema_path(a.schema), default_file=files[-1])
    missing = missing_inputs(resolved, origin, files[-1])
    if missing:  # Snakemake stops on these too, before any job
        raise ConfigError("\n".join(missing))
    for w in config_warnings(resolved):
        print(f"warning: {w}", file=sys.stderr)
    if a.json:
        print(json.dumps(resolved, indent=2))
    else:
        print(summary(resolved, files))
        print("OK")


def cmd_download(a) -> None:
    from .data.registry import get_dataset

    get_dataset(a.dataset).build(Path(a.out))


def cmd_prepare(a) -> None:
    from .data.prepare import prepare_dataset
    from .data.releases import get_source

    spec = get_source(a.dataset, a.overrides)
    prepare_dataset(spec, a.out, a.downloads, a.lock, retries=a.retries, timeout_s=a.timeout,
                    progress=not a.quiet)


def cmd_features(a) -> None:
    """Raw data -> features table (every backbone, every raw layout: mtlbench.features.extract)."""
    from .features.extract import extract_features
    from .runinfo import resolve_device

    _set_threads(a.threads)
    summary = extract_features(a.raw, a.backbone, a.config, a.out, device=resolve_device(a.device),
                               progress=not a.quiet, workers=a.workers, shard_size=a.shard_size,
                               skip_unreadable=a.skip_unreadable, decode=a.decode, jpeg_draft=a.jpeg_draft,
                               prefetch=a.prefetch)
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"} | {"skipped": len(summary["skipped"])}))


def cmd_index_images(a) -> None:
    from .data.image_folder import index_image_folder

    manifest = index_image_folder(a.dataset, a.config, a.out)
    counts = ", ".join(f"{t} {n}" for t, n in manifest["samples_per_task"].items())
    print(f"{a.out}: {len(manifest['classes'])} classes; images per task: {counts}")


def cmd_routing_data(a) -> None:
    """A routing task's fixed evaluation set and its OR-tools reference (data.routing.build)."""
    from .data.routing.build import build_routing_data

    _set_threads(1)
    exact = {} if a.op_exact_time_limit is None else {"op_exact_time_limit_s": a.op_exact_time_limit}
    settings = build_routing_data(a.out, a.tasks, eval_size=a.eval_size, seed=a.eval_seed,
                                  time_limit_s=a.time_limit, **exact)
    for task, st in settings.items():
        print(f"{a.out}/{task}.npz + {task}.reference.json: {a.eval_size} instances, reference {st}")


def cmd_import_features(a) -> None:
    from .features.feature_file import import_features
    from .features.tabular_file import import_tabular

    tabular = a.config.get("kind") == "tabular"
    meta = (import_tabular if tabular else import_features)(a.dataset, a.config, a.out)
    for w in meta.get("warnings", []):
        print(f"warning: datasets.{a.dataset}: {w}", file=sys.stderr)
    if tabular:
        layout = meta["tabular"]
        print(f"{a.out}: {meta['feature_dim']} slots, {meta['num_samples']} rows in {len(layout['task_mask'])} tasks; "
              f"{len(layout['dropped_tasks'])} task(s) dropped under min_samples_per_task "
              f"{layout['min_samples_per_task']}")
        return
    files = ", ".join(f"{t}: {f['file']} ({f['sha256'][:12]})" for t, f in meta["source"]["files"].items())
    print(f"{a.out}: {meta['feature_dim']}-d features, {meta['num_samples']} samples from {files}")


def cmd_splits(a) -> None:
    from .features.table import read_features
    from .io import sha256_file
    from .splits import chronological_split, make_split, write_split

    ft = read_features(a.features, columns=("sample_id", "task", "label"))
    source = {"features": a.features, "features_sha256": sha256_file(a.features)}
    chronological = ft.metadata.get("chronological")
    if chronological:  # time-series windows (ETT): train / val / test by time, the same for every seed
        df = chronological_split(ft.sample_id, ft.task, chronological, a.ratio)
        source["kind"] = "chronological"
    else:
        df = make_split(ft.sample_id, ft.task, ft.label, a.ratio, a.seed)
    h = write_split(a.out, df, a.ratio, a.seed, source=source)
    val = f" / {(df.split == 'val').sum()} val" if chronological else ""
    print(f"{a.out}: {(df.split == 'train').sum()} train{val} / {(df.split == 'test').sum()} test, "
          f"content sha256 {h[:12]}")


def cmd_published_split(a) -> None:
    from .checks import build_dataclass
    from .data.raw import load_raw
    from .splits import write_split
    from .splits.published import SplitListConfig, published_split

    cfg = build_dataclass(SplitListConfig, a.config, "split_lists")
    raw = load_raw(a.raw)
    df, source = published_split(cfg, a.ratio, raw.sample_id, raw.task, raw.label, raw.manifest["classes"])
    h = write_split(a.out, df, a.ratio, None, source=source)
    print(f"{a.out}: {(df.split == 'train').sum()} train / {(df.split == 'test').sum()} test "
          f"from the lists in {cfg.lists}, content sha256 {h[:12]}")


def cmd_audit_splits(a) -> None:
    import pandas as pd

    from .checks import build_dataclass
    from .io import read_json
    from .splits.published import SplitListConfig, audit_lists, write_audit

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
        if a.routing_data:  # a routing dataset: evaluation sets + references, no features or split
            from .methods.blocks.routing_run import write_routing_run
            from .runinfo import resolve_device

            rec = write_routing_run(a.routing_data, a.out, a.tasks, a.algorithm or a.method, a.hparams, a.seed,
                                    resolve_device(a.device), dataset=a.dataset, label=a.method,
                                    progress=not a.quiet)
        else:
            if not a.features or not a.split:
                raise SystemExit("mtlbench train: --features and --split are required (or --routing-data)")
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
    from .report.paper import side_by_side_markdown, write_markdown

    letters = dict(item.split("=", 1) for item in a.tasks)
    text = side_by_side_markdown(a.runs, a.paper, a.dataset, a.paper_dataset, letters, a.methods, a.ratios,
                                 a.differences)
    write_markdown(a.out, text)
    print(f"{a.out}: {len(a.ratios)} tables, {len(a.runs)} runs")


def cmd_paper_tables(a) -> None:
    from .report.claims import write_claims
    from .report.paper import write_paper_comparison

    for path in write_paper_comparison(a.runs, a.out_dir, a.dataset, a.tasks, a.ratios, a.paper_csv):
        print(path)
    for path in write_claims(a.runs, a.out_dir, a.dataset, a.ratios, a.robustness_runs):
        print(path)


def cmd_train_seeds(a) -> None:
    from .gpu import claim_gpu

    if len(a.out) != len(a.seeds) or (not a.routing_data and len(a.splits or []) != len(a.seeds)):
        raise SystemExit("mtlbench train-seeds: --splits (unless --routing-data), --seeds and --out need one entry "
                         "per seed")
    if not a.routing_data and not a.features:
        raise SystemExit("mtlbench train-seeds: --features and --splits are required (or --routing-data)")
    # claim a GPU before anything initialises CUDA
    with claim_gpu(a.gpu_lock_dir) if a.gpu_lock_dir else _null():
        _set_threads(a.threads)
        if a.routing_data:  # a routing dataset: seed after seed on fresh instances (no features or split)
            from .methods.blocks.routing_run import write_routing_run

            records = [write_routing_run(a.routing_data, out, a.tasks, a.algorithm or a.method, a.hparams, seed,
                                         _device(a.device), dataset=a.dataset, label=a.method,
                                         progress=not a.quiet) for seed, out in zip(a.seeds, a.out)]
        else:
            from .train import run_seeds

            records = run_seeds(a.features, a.splits, a.out, dataset=a.dataset, tasks=a.tasks, method=a.method,
                                algorithm=a.algorithm or a.method, hparams=a.hparams, ratio=a.ratio,
                                seeds=a.seeds, device=a.device, progress=not a.quiet)
    for rec, out in zip(records, a.out):
        avg = ", ".join(f"{k} {v:.4f}" for k, v in rec["metrics"]["average"].items())
        scope = f"for seeds {rec['batched_seeds']} together" if "batched_seeds" in rec else f"for seed {rec['seed']}"
        print(f"{out}: {avg} ({rec['wall_time_s']:.1f} s {scope} on {rec['device']['device']})")


def cmd_robustness(a) -> None:
    from .gpu import claim_gpu

    if not len(a.split) == len(a.seed) == len(a.out):
        raise SystemExit("mtlbench robustness: --split, --seed and --out need one entry per seed")
    # claim a GPU before anything initialises CUDA
    with claim_gpu(a.gpu_lock_dir) if a.gpu_lock_dir else _null():
        _set_threads(a.threads)
        from .robustness import fgsm_run

        for split, seed, out_path in zip(a.split, a.seed, a.out):  # seed after seed, in this one process
            out = fgsm_run(split_path=split, out_path=out_path, features_path=a.features, dataset=a.dataset,
                           tasks=a.tasks, method=a.method, algorithm=a.algorithm or a.method, hparams=a.hparams,
                           ratio=a.ratio, seed=seed, eps=a.eps, device=a.device, progress=not a.quiet,
                           eps_unit=a.eps_unit)
            print(f"{out_path}: " + ", ".join(f"eps {e:g}: {v:.4f}" for e, v in out["fgsm"]["avg"].items()))


def cmd_robustness_table(a) -> None:
    from .report.robustness import write_robustness_table

    for path in write_robustness_table(a.runs, a.out_dir, a.dataset, a.ratio, a.methods):
        print(path)


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


def cmd_similarity(a) -> None:
    """One estimator's task x task matrix -> results/similarity/{dataset}/{estimator}.json."""
    from .io import sha256_file
    from .similarity.estimate import estimate, get_estimator
    from .similarity.io import write_similarity

    settings = dict(a.settings)
    est = get_estimator(a.estimator)
    trains = est.inputs in ("problem", "routing")  # a network: threads and device matter
    if trains:
        _set_threads(a.threads)
    matrix, inputs = estimate(a.estimator, settings, tasks=a.tasks, features=a.features, split=a.split,
                              runs=a.runs, seed=a.seed, device=_device(a.device) if trains else "cpu",
                              where=f"similarity.{a.estimator}")
    if a.features:
        inputs.update(features=a.features, features_sha256=sha256_file(a.features), split=a.split)
    write_similarity(a.out, matrix, a.tasks, a.name or a.estimator, {**settings, "seed": a.seed},
                     orientation=est.orientation, dataset=a.dataset, inputs=inputs)
    print(f"{a.out}: {a.name or a.estimator} {len(a.tasks)}x{len(a.tasks)}")


def _device(name: str) -> str:
    from .runinfo import resolve_device

    return resolve_device(name)


def cmd_train_task_set(a) -> None:
    """Train one set of tasks together (bMTL) per (split, seed) -> a task-set record
    (accuracy per classification task, MSE per regression task); with --task-sets, each of
    several sets in turn in this one process (one record per --out)."""
    from .io import write_json
    from .similarity.transfer_gain import iter_task_sets, record_metric, record_score

    task_sets = [_csv_list(t) for t in a.task_sets] if a.task_sets is not None else [a.tasks]
    if a.out_dir is not None:  # one record per set, named after it (none: the folder alone)
        Path(a.out_dir).mkdir(parents=True, exist_ok=True)
        outs = [str(Path(a.out_dir) / f"{'+'.join(tasks)}.json") for tasks in task_sets]
    elif len(a.out) != len(task_sets):
        raise SystemExit(f"mtlbench train-task-set: {len(task_sets)} task sets need as many --out files, "
                         f"got {len(a.out)}")
    else:
        outs = a.out
    _set_threads(a.threads)
    if a.routing_data:  # a routing dataset: routing_bmtl on the tasks, gap per task
        from .similarity.routing_task_set import routing_task_set

        device = _device(a.device)
        records = (routing_task_set(a.routing_data, tasks, a.hparams, a.seeds, device=device) for tasks in task_sets)
    elif not a.features or not a.splits:
        raise SystemExit("mtlbench train-task-set: --features and --splits are required (or --routing-data)")
    else:
        records = iter_task_sets(a.features, a.splits, task_sets, a.hparams, a.seeds, device=_device(a.device))
    for tasks, rec, out in zip(task_sets, records, outs):
        write_json(out, rec)
        print(f"{out}: " + ", ".join(f"{t} {record_metric(rec, t)} {record_score(rec, t):.4f}" for t in tasks),
              flush=True)


def cmd_transfer_gain(a) -> None:
    """Task-set records (each task alone, each pair) -> the transfer_gain similarity file."""
    from .similarity.transfer_gain import write_transfer_gain

    gain = write_transfer_gain(a.out, [str(p) for p in _record_files(a.records)], a.tasks, a.dataset)
    print(f"{a.out}: mean off-diagonal gain {gain[~np.eye(len(gain), dtype=bool)].mean():+.4f}")


def cmd_grouping(a) -> None:
    """A gain (and optionally another similarity) matrix -> results/grouping/{dataset}/{solver}.json."""
    from .grouping.base import write_grouping
    from .grouping.solve import SolveInputs, solve
    from .similarity.io import read_similarity

    gain, _ = read_similarity(a.gain, a.tasks)
    sim, sim_rec = read_similarity(a.similarity, a.tasks) if a.similarity else (None, {})
    cons = dict(max_group_size=a.max_group_size, task_cost=a.task_cost, max_group_cost=a.max_group_cost,
                network_cost=a.network_cost, total_cost=a.total_cost,
                must_link=_pairs(a.must_link, a.tasks), cannot_link=_pairs(a.cannot_link, a.tasks))
    res = solve(a.solver, gain, a.budget, SolveInputs(
        tasks=a.tasks, constraints=cons, overlap_max_group_size=a.overlap_max_group_size, time_limit_s=a.time_limit,
        seed=a.seed, similarity=sim, similarity_record=sim_rec, cluster_method=a.cluster_method))
    write_grouping(a.out, res, a.tasks, inputs={"gain": a.gain, "similarity": a.similarity})
    print(f"{a.out}: {res.solver} {res.status} objective {res.objective:+.4f} "
          f"groups {[[a.tasks[t] for t in g] for g in res.groups]} ({res.wall_time_s:.2f} s)")


def _pairs(values: list[str], tasks: list[str]) -> list[tuple[int, int]]:
    out = []
    for v in values or []:
        names = v.split(",")
        missing = [n for n in names if n not in tasks]
        if len(names) != 2 or missing:
            raise ConfigError(f"link constraint {v!r}: must be two task names 'a,b' from {tasks}")
        out.append((tasks.index(names[0]), tasks.index(names[1])))
    return out


def cmd_correlation(a) -> None:
    """Estimator matrices vs the measured gains -> correlation table (md, csv) and heat-map."""
    from .similarity.correlation import (
        correlation_table,
        write_correlation_heatmap,
        write_correlation_table,
    )
    from .similarity.io import read_similarity

    gain, _ = read_similarity(a.gain, a.tasks)
    estimates = {}
    for path in a.estimates:
        m, rec = read_similarity(path, a.tasks)
        estimates[rec["estimator"]] = (m, rec["orientation"])
    frame = correlation_table(estimates, gain)
    write_correlation_table(frame, a.out_dir, a.dataset)
    if a.figure:
        write_correlation_heatmap(frame, a.figure, a.dataset)
    print(frame.to_string(index=False))


def cmd_select_networks(a) -> None:
    """A subset_scores table -> selection.csv, grouping_{dataset}.{md,csv} and the figure."""
    from .checks import build_dataclass
    from .data.subset_scores import SubsetScoresConfig, read_subset_table
    from .grouping.table import TABLE_SOLVERS, selection_frame, write_selection

    cfg = build_dataclass(SubsetScoresConfig, {"kind": "subset_scores", **a.config}, f"datasets.{a.dataset}")
    for s in a.solvers:
        if s not in TABLE_SOLVERS:
            raise ConfigError(f"--solvers: {s!r}; allowed: {', '.join(TABLE_SOLVERS)}")
    table = read_subset_table(cfg)
    frame = selection_frame(table, cfg.budget_list, a.solvers, a.time_limit, a.random_draws, a.seed)
    write_selection(frame, table, a.dataset, a.out, a.tables_dir, a.figure)
    print(frame[["solver", "budget", "val_total", "test_total", "status"]].to_string(index=False))


def _record_files(paths: list[str]) -> list[Path]:
    """Task-set record files: each path given, or every ``*.json`` in it where it is a folder
    (a ``chosen_task_sets`` part, ``train-task-set --out-dir``)."""
    out = []
    for p in map(Path, paths):
        out += sorted(p.glob("*.json")) if p.is_dir() else [p]
    return out


def cmd_evaluate_groupings(a) -> None:
    """Grouping files + task-set records -> grouping comparison table with regret vs oracle."""
    from .grouping.evaluate import (
        evaluation_table,
        oracle_partition,
        records_by_set,
        write_evaluation_table,
    )
    from .io import read_json

    records = records_by_set([read_json(p) for p in _record_files(a.records)])
    groupings = {}
    for path in a.groupings:
        rec = read_json(path)
        groupings[Path(path).stem] = rec
    oracle = oracle_partition(records, a.tasks, a.oracle_budget) if a.oracle_budget else None
    frame = evaluation_table(groupings, records, a.tasks, oracle)
    write_evaluation_table(frame, a.out_dir, a.dataset, a.stem)
    print(frame.drop(columns="groups").to_string(index=False))



# help of the arguments many commands share, by destination (a command's own help wins)
ARG_HELP = {
    "dataset": "dataset name (a key of params.yaml datasets:)",
    "tasks": "task names, comma-separated, in the dataset's order",
    "method": "the method's label in params.yaml methods: (the name in tables and file paths)",
    "algorithm": "registered method name (default: --method)",
    "hparams": "hyper-parameters as JSON (mtlbench check --json prints them per method)",
    "features": "features table: data/features/{dataset}/{backbone}.parquet",
    "split": "split file: data/splits/{dataset}/r{ratio}_s{seed}.parquet",
    "ratio": "train ratio, e.g. 0.1 (the share of each task and class used for training)",
    "ratios": "train ratios, comma-separated, e.g. 0.05,0.1,0.2",
    "seed": "random seed (data sampling and initialisation)",
    "seeds": "seeds, one per split file, in the same order",
    "runs": "run JSONs: results/runs/{dataset}/{method}/r{ratio}_s{seed}.json",
    "run": "one run JSON",
    "records": "task-set record JSONs (results/similarity/{dataset}/task_sets/*.json) or folders of them",
    "methods": "method labels, comma-separated, in table order",
    "metrics": "metrics, comma-separated: accuracy, mse, mae, explained_variance",
    "metric": "accuracy | mse | mae",
    "out": "output file (written under a temporary name, then renamed)",
    "out_dir": "output folder",
    "raw": "raw folder: data/raw/{dataset}",
    "backbone": "backbone name: pixels | vgg16_fc7 | window",
    "gain": "the gains, a similarity JSON: results/similarity/{dataset}/transfer_gain.json (measured) or the estimator of similarity.gains",
    "estimates": "similarity JSONs of the estimators",
    "groupings": "grouping JSONs: results/grouping/{dataset}/B{budget}/*.json",
    "figure": "also write the heat map to this PNG",
    "solver": "grouping program or baseline",
    "eps": "FGSM step sizes, comma-separated (0 = clean accuracy)",
    "perplexity": "t-SNE perplexity",
    "max_group_size": "most tasks in one group",
    "task_cost": "compute cost of each task, comma-separated, in --tasks order",
    "max_group_cost": "cap on a group's summed task cost",
    "network_cost": "fixed cost per network, counted in the total cost",
    "total_cost": "cap on the total cost (tasks + networks)",
}


def _fill_help(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if action.help is None and action.dest in ARG_HELP:
            action.help = ARG_HELP[action.dest]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mtlbench", usage="mtlbench COMMAND [ARGS ...]",
        description="Every stage of the mtlbench pipeline as a command, with explicit arguments "
                    "(the Snakemake rules call these).",
        epilog="`mtlbench COMMAND --help` lists a command's arguments.  Start with: mtlbench check "
               "(or mtlbench check configs/quick.yaml).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")

    s = sub.add_parser("check", help="check params files as Snakemake merges them; print a summary",
                       description="Merge params.yaml and the given files in Snakemake's order (configfile, then "
                       "each --configfile), apply the library's check and the JSON schema, and print a summary. "
                       "Example: mtlbench check configs/ett.yaml")
    s.add_argument("params", nargs="*", metavar="FILE",
                   help="params files merged in this order over --base (default: just --base)")
    s.add_argument("--base", default="params.yaml",
                   help="the Snakefile's configfile, read first when it exists (default: params.yaml); '' for none")
    s.add_argument("--schema", default=None, help="JSON schema (default: workflow/schemas/params.schema.yaml)")
    s.add_argument("--json", action="store_true", help="print the resolved configuration (every default) as JSON")
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

    s = sub.add_parser("features", parents=[common],
                       help="raw data -> features table (arrays, time-series windows, image files in shards)")
    s.add_argument("--raw", required=True, help="data/raw/{dataset}")
    s.add_argument("--backbone", required=True)
    s.add_argument("--config", type=_json_arg, default={}, help="backbones.<backbone> settings as JSON")
    s.add_argument("--out", required=True, help="data/features/{dataset}/{backbone}.parquet")
    # the decoding of image files (an image index: the image releases, image_folder);
    # array and series data take none of these
    s.add_argument("--workers", type=int, default=0, help="DataLoader processes decoding image files (0: in this one)")
    s.add_argument("--shard-size", type=int, default=4096, help="images per resumable shard (vgg16_fc7)")
    s.add_argument("--skip-unreadable", action="store_true", help="leave unreadable images out (listed in the metadata)")
    s.add_argument("--decode", choices=("cpu", "cuda"), default="cpu", help="cuda: JPEG decode on the GPU")
    s.add_argument("--jpeg-draft", action="store_true",
                   help="CPU decode of JPEGs at a reduced DCT scale (faster on large images, slightly different pixels)")
    s.add_argument("--prefetch", type=int, default=4, help="batches each decode worker prepares ahead")
    s.set_defaults(fn=cmd_features)

    s = sub.add_parser("index-images", help="raw stage of an image_folder dataset: list the images (no decoding)")
    s.add_argument("--dataset", required=True)
    s.add_argument("--config", type=_json_arg, required=True, help="the dataset entry's keys as JSON (root, subdir, ...)")
    s.add_argument("--out", required=True, help="data/raw/{dataset}")
    s.set_defaults(fn=cmd_index_images)

    s = sub.add_parser("routing-data", help="routing tasks -> fixed evaluation sets + OR-tools references")
    s.add_argument("--tasks", type=_csv_list, required=True, help="routing tasks, e.g. tsp20,cvrp20")
    s.add_argument("--eval-size", type=int, required=True, help="instances per evaluation set")
    s.add_argument("--eval-seed", type=int, required=True, help="seed of the evaluation sets")
    s.add_argument("--time-limit", type=float, required=True, help="OR-tools seconds per instance")
    s.add_argument("--op-exact-time-limit", type=float, default=None,
                   help="OP: CP-SAT deterministic seconds per instance after OR-tools routing (0: off; "
                        "default: mtlbench.data.routing.reference.OP_EXACT_TIME_LIMIT_S)")
    s.add_argument("--out", required=True, help="data/routing/{dataset}")
    s.set_defaults(fn=cmd_routing_data)

    s = sub.add_parser("import-features", help="a feature_file or tabular dataset -> features table (no backbone)")
    s.add_argument("--dataset", required=True)
    s.add_argument("--config", type=_json_arg, required=True,
                   help="the dataset entry's keys as JSON (path, format, files, ...; `mtlbench check` prints them as 'source')")
    s.add_argument("--out", required=True, help="data/features/{dataset}/precomputed.parquet")
    s.set_defaults(fn=cmd_import_features)

    s = sub.add_parser("prepare", help="download, verify, extract and index a real dataset")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument("--dataset", required=True, help="office_home | office_caltech | image_clef | domainnet | amtnn_digits | etth1 | etth2 | ettm1 | ettm2")
    s.add_argument("--out", required=True, help="data/raw/{dataset}")
    s.add_argument("--downloads", default=None, help="archive folder (default: data/raw/downloads beside --out)")
    s.add_argument("--lock", default=None, help="sha256 lock file (default: data/raw/downloads.lock.json)")
    s.add_argument("--overrides", type=_json_arg, default={},
                   help="params datasets.<name>.download as JSON: {sources: {file: {urls, md5, sha256}}, expected_counts}")
    s.add_argument("--retries", type=int, default=3, help="tries per mirror")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds without data before a try fails")
    s.set_defaults(fn=cmd_prepare)

    s = sub.add_parser("similarity", parents=[common], help="one estimator's task x task matrix -> similarity JSON")
    s.add_argument("--estimator", required=True, help="a name of mtlbench.similarity.estimate.ESTIMATORS: "
                   + " | ".join(ESTIMATORS))
    s.add_argument("--name", default=None, help="label in files and tables (default: --estimator)")
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--features", default=None)
    s.add_argument("--split", default=None, help="use this split's training part (tag_affinity: required)")
    s.add_argument("--runs", nargs="*", default=None, help="run JSONs holding learned relations")
    s.add_argument("--settings", type=_json_arg, default={}, help="estimator settings as JSON")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_similarity)

    s = sub.add_parser("train-task-set", parents=[common],
                       help="train a set of tasks together (bMTL) per split/seed -> task-set record JSON")
    s.add_argument("--features", default=None, help="features table (required unless --routing-data)")
    s.add_argument("--splits", nargs="+", default=None, help="one split file per seed (unless --routing-data)")
    s.add_argument("--routing-data", default=None,
                   help="a routing dataset's folder (data/routing/{dataset}); trains routing_bmtl, gap per task")
    s.add_argument("--seeds", type=int, nargs="+", required=True)
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--tasks", type=_csv_list, default=None, help="one task (alone), two (a pair) or a group")
    which.add_argument("--task-sets", nargs="*", default=None,
                   help="several sets, each comma-separated (e.g. a b a,b), trained one after another in this "
                        "process; instead of --tasks (none: with --out-dir, the empty folder)")
    s.add_argument("--hparams", type=_json_arg, default={})
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", nargs="+", help="the record JSON (one per set of --task-sets)")
    where.add_argument("--out-dir", default=None,
                       help="instead of --out: each set's record as OUT_DIR/<its tasks joined by +>.json")
    s.set_defaults(fn=cmd_train_task_set)

    s = sub.add_parser("transfer-gain", help="task-set records (alone + pairs) -> transfer_gain similarity JSON")
    s.add_argument("--records", nargs="+", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_transfer_gain)

    s = sub.add_parser("grouping", help="gain matrix -> grouping JSON (MIP, exhaustive or a baseline)")
    s.add_argument("--solver", required=True, choices=SOLVERS)  # mtlbench.grouping.solve
    s.add_argument("--gain", required=True, help="similarity JSON of the gains that score every grouping")
    s.add_argument("--similarity", default=None, help="the matrix tag / hoa / cluster select from")
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--budget", type=int, required=True, help="most groups (networks)")
    s.add_argument("--max-group-size", type=int, default=None)
    s.add_argument("--overlap-max-group-size", type=int, default=None,
                   help="candidate group size for mip_overlap / tag / hoa (default: --max-group-size)")
    s.add_argument("--task-cost", type=lambda t: [float(x) for x in t.split(",")], default=None)
    s.add_argument("--max-group-cost", type=float, default=None)
    s.add_argument("--network-cost", type=float, default=0.0)
    s.add_argument("--total-cost", type=float, default=None)
    s.add_argument("--must-link", nargs="*", default=[], help="pairs 'a,b' of task names")
    s.add_argument("--cannot-link", nargs="*", default=[], help="pairs 'a,b' of task names")
    s.add_argument("--cluster-method", default="spectral", help="spectral | agglomerative")
    s.add_argument("--time-limit", type=float, default=60.0, help="CP-SAT seconds")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_grouping)

    s = sub.add_parser("correlation", help="estimators vs measured gains -> rank-correlation table + heat-map")
    s.add_argument("--gain", required=True)
    s.add_argument("--estimates", nargs="+", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--out-dir", required=True)
    s.add_argument("--figure", default=None)
    s.set_defaults(fn=cmd_correlation)

    s = sub.add_parser("select-networks", help="a subset_scores table (published measured subsets) -> "
                       "network selection of every table solver under every budget, scored on test")
    s.add_argument("--dataset", required=True)
    s.add_argument("--config", type=_json_arg, required=True,
                   help="the dataset entry's keys as JSON (format, path, tasks, budgets, ...)")
    s.add_argument("--solvers", type=_csv_list, default=["oracle", "hoa", "mip", "mip_normalized", "each_alone",
                                                          "all_in_one", "random"],
                   help="comma-separated table solvers (mtlbench.grouping.table.TABLE_SOLVERS)")
    s.add_argument("--time-limit", type=float, default=60.0, help="seconds per exact solve")
    s.add_argument("--random-draws", type=int, default=100,
                   help="random selections per budget; the 'random' row is their mean")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="results/grouping/{dataset}/selection.csv")
    s.add_argument("--tables-dir", default="results/tables",
                   help="where grouping_{dataset}.{md,csv} are written")
    s.add_argument("--figure", default=None, help="results/figures/grouping_{dataset}.png")
    s.set_defaults(fn=cmd_select_networks)

    s = sub.add_parser("evaluate-groupings", help="groupings + task-set records -> comparison table, regret")
    s.add_argument("--groupings", nargs="+", required=True)
    s.add_argument("--records", nargs="+", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--oracle-budget", type=int, default=None, help="oracle over every recorded subset")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--stem", default=None, help="file name stem (default grouping_{dataset})")
    s.set_defaults(fn=cmd_evaluate_groupings)

    s = sub.add_parser("splits", help="features table -> stratified split for one (ratio, seed); "
                       "chronological (train / val / test by time) for time-series windows")
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
    s.add_argument("--paper", default=None, help="the paper CSV (default: the copy shipped in mtlbench/paperdata)")
    s.add_argument("--dataset", required=True)
    s.add_argument("--paper-dataset", required=True, help="the paper CSV's dataset id, e.g. office_caltech")
    s.add_argument("--tasks", type=_csv_list, required=True, help="our task=paper column, e.g. amazon=A,dslr=D,webcam=W")
    s.add_argument("--methods", type=_csv_list, required=True)
    s.add_argument("--ratios", type=lambda t: [float(x) for x in t.split(",")], required=True)
    s.add_argument("--differences", default="", help="caption text naming what differs from the paper")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_paper_compare)

    s = sub.add_parser("train", parents=[common], help="train one method on one split -> run JSON")
    s.add_argument("--features", default=None, help="features table (required unless --routing-data)")
    s.add_argument("--split", default=None, help="split file (required unless --routing-data)")
    s.add_argument("--routing-data", default=None,
                   help="a routing dataset's folder (data/routing/{dataset}: {task}.npz + {task}.reference.json)")
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
    s.add_argument("--robustness-runs", nargs="*", default=[], help="FGSM run JSONs (mtlbench robustness) for "
                   "the claims table's robustness claims")
    s.set_defaults(fn=cmd_paper_tables)

    s = sub.add_parser("train-seeds", parents=[common],
                       help="train one method on every seed in one process (one batched model where the method "
                            "has it) -> one run JSON per seed")
    s.add_argument("--features", default=None, help="features table (required unless --routing-data)")
    s.add_argument("--splits", nargs="+", default=None,
                   help="one split file per seed, in --seeds order (required unless --routing-data)")
    s.add_argument("--routing-data", default=None,
                   help="a routing dataset's folder (data/routing/{dataset}); its runs have no split")
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

    s = sub.add_parser("robustness", parents=[common],
                       help="train one method, then FGSM accuracy at each eps -> JSON (per seed: several "
                            "--split / --seed / --out, paired, run one after another)")
    s.add_argument("--gpu-lock-dir", default=None, help="claim one GPU through a lock in this folder")
    s.add_argument("--features", required=True)
    s.add_argument("--split", nargs="+", required=True, help="the split file of each seed")
    s.add_argument("--out", nargs="+", required=True, help="one FGSM run JSON per seed")
    s.add_argument("--dataset", required=True)
    s.add_argument("--tasks", type=_csv_list, required=True)
    s.add_argument("--method", required=True)
    s.add_argument("--algorithm", default=None)
    s.add_argument("--hparams", type=_json_arg, default={})
    s.add_argument("--ratio", type=float, required=True)
    s.add_argument("--seed", type=int, nargs="+", required=True, help="one per --split")
    s.add_argument("--eps", type=lambda t: [float(x) for x in t.split(",")], default=[0.0, 0.02, 0.05, 0.1, 0.2])
    s.add_argument("--eps-unit", choices=["feature_std", "absolute"], default="feature_std",
                   help="feature_std: eps times each feature's training std; absolute: raw feature units")
    s.set_defaults(fn=cmd_robustness)

    s = sub.add_parser("robustness-table", help="robustness run JSONs -> FGSM accuracy table (md, tex, csv)")
    s.add_argument("--runs", nargs="+", required=True)
    s.add_argument("--dataset", required=True)
    s.add_argument("--ratio", type=float, required=True)
    s.add_argument("--methods", type=_csv_list, required=True)
    s.add_argument("--out-dir", required=True)
    s.set_defaults(fn=cmd_robustness_table)

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
    for parser in sub.choices.values():
        _fill_help(parser)
    return p


def _remove_stale_temporaries(args) -> None:
    """At job start: the temporaries a killed job left beside this job's outputs."""
    from .io import remove_stale_temporaries

    out = getattr(args, "out", None)
    for path in (out if isinstance(out, list) else [out]) if out else []:
        remove_stale_temporaries(path)


def main(argv: list[str] | None = None) -> int:
    try:
        tune_malloc()  # mtlbench.malloc: the heap kept between training steps
    except MtlbenchError as e:
        print(f"mtlbench: error: {e}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    _remove_stale_temporaries(args)
    try:
        args.fn(args)
    except MtlbenchError as e:
        print(f"mtlbench {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


def run() -> None:
    """The ``mtlbench`` console command: :func:`main`, then :func:`mtlbench.fastexit.exit_now`
    (the process ends without the interpreter's teardown once the command has finished).
    A reader that closes the pipe early (``mtlbench check --json | head``) ends the command
    quietly with status 1, as Python's documentation advises, not with a traceback."""
    import os

    from .fastexit import exit_now

    try:
        code = main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is still buffered goes nowhere
        code = 1
    exit_now(code)


if __name__ == "__main__":
    run()
