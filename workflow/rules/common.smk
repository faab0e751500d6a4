# Config validation and input functions; no stage logic lives here.
import json
import os
import sys

from snakemake.logging import logger

from mtlbench.data.kinds import ROUTING_TASK_NAMES
from mtlbench.config import check_params, config_warnings, merge_params_files, missing_inputs
from mtlbench.errors import ConfigError
from mtlbench.malloc import malloc_mode
from mtlbench.metrics import HIGHER_IS_BETTER
from mtlbench.runstate import clear_stale_lock

# the rules call `mtlbench`: find it beside this Python (the venv's) even when the venv
# is not activated (`.venv/bin/snakemake ...`).  Appended, not prepended: an `mtlbench`
# already on PATH (an activated venv, a wrapper) keeps its place
os.environ["PATH"] = os.environ.get("PATH", "") + os.pathsep + os.path.dirname(sys.executable)

# params.yaml, then every --configfile (Snakemake's order): the library's check, then the
# JSON schema; an error names the file its key came from, the key and the allowed values
# (workflow.configfiles lists the --configfile files, absolute, first; then the Snakefile's)
def _shown(path):
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


_CLI_FILES = [str(f) for f in workflow.overwrite_configfiles or []]
CONFIG_FILES = [str(f) for f in workflow.configfiles if str(f) not in _CLI_FILES] + _CLI_FILES
CONFIG_FILES = [_shown(f) for f in CONFIG_FILES]
_LAST_FILE = CONFIG_FILES[-1] if CONFIG_FILES else "params.yaml"  # named when a key's file is unknown
try:
    malloc_mode(os.environ)  # every job's `mtlbench` reads it: a typo fails here, before any job
    _, _ORIGIN = merge_params_files(CONFIG_FILES, dict(workflow.config_settings.config))
    P = check_params(config, _ORIGIN, schema_path=os.path.join(workflow.current_basedir, "../schemas/params.schema.yaml"),
                     cache_dir=".snakemake/mtlbench", default_file=_LAST_FILE)
except ConfigError as e:
    raise WorkflowError(str(e)) from None
if workflow.is_main_process:  # not in the jobs a cluster executor starts
    for _w in config_warnings(P):
        logger.warning(f"warning: {_w}")
    _missing = missing_inputs(P, _ORIGIN, _LAST_FILE)
    if _missing:
        raise WorkflowError("\n".join(_missing))
    _stale = clear_stale_lock(".")
    if _stale:
        logger.warning(_stale)

RATIOS = [f"{r:g}" for r in P["train_ratios"]]
SEEDS = [str(s) for s in P["seeds"]]
DATASETS = [d for d, spec in P["datasets"].items() if spec["enabled"] and spec.get("kind") != "subset_scores"]
# published tables of measured subset scores: network selection only (grouping.smk), no training
SUBSET_TABLES = [d for d, spec in P["datasets"].items() if spec["enabled"] and spec.get("kind") == "subset_scores"]
METHODS = [m for m, spec in P["methods"].items() if spec["enabled"]]
# what each method can do is declared on its class (mtlbench.methods.base.Method) and
# resolved into P by the library's check (mtlbench.config.method_capabilities): no rule
# names a method or a backbone
RELATION_METHODS = [m for m in METHODS if P["methods"][m]["learns_relations"]]  # the alpha heat map
TSNE_METHODS = [m for m in RELATION_METHODS if P["methods"][m]["embedding"]]  # learned features kept
PAPER_METHODS = [m for m in METHODS if P["methods"][m]["paper_tables"]]  # the VMTL paper's tables
GPU_LOCKS = ".snakemake/gpu-locks"


def _names(*kinds):
    """Regex matching the datasets of these kinds (a pattern matching nothing when none)."""
    names = [d for d, spec in P["datasets"].items() if spec.get("kind", "registered") in kinds]
    return "|".join(names) if names else "(?!x)x"


def _release_names():
    from mtlbench.data.releases import SOURCES

    names = [d for d in P["datasets"] if d in SOURCES]
    return "|".join(names) if names else "(?!x)x"


# registered datasets split into the embedded ones (built offline) and the real releases
RELEASES = _release_names()
REGISTERED = "|".join(
    d for d, s in P["datasets"].items() if s.get("kind", "registered") == "registered" and d not in RELEASES.split("|")
) or "(?!x)x"
# feature_file and tabular datasets are imported as they are (no backbone): precomputed.parquet
IMAGE_FOLDERS, FEATURE_FILES = _names("image_folder"), _names("feature_file", "tabular")
# routing datasets: generated evaluation sets + reference solutions (download.smk), no
# features and no split; their methods train on fresh instances (train.smk train_routing)
ROUTING = _names("routing")
UNROUTED = "|".join(d for d, s in P["datasets"].items() if s.get("kind") != "routing") or "(?!x)x"


def routing_files(dataset):
    """A routing dataset's stage outputs: every task's evaluation set and reference."""
    return expand("data/routing/{dataset}/{task}.{ext}", dataset=dataset, task=P["datasets"][dataset]["tasks"],
                  ext=["npz", "reference.json"])


def routing_setting(key):
    return lambda wc: P["datasets"][wc.dataset]["source"][key]


def data_of(dataset):
    """What the data stage gives a dataset: its features table and splits, or its routing files."""
    if P["datasets"][dataset].get("kind") == "routing":
        return routing_files(dataset)
    return [features_path(dataset), *splits_of(dataset)]
def _file_release_names():
    from mtlbench.data.releases import SOURCES

    return [d for d in P["datasets"] if d in SOURCES and SOURCES[d].layout is not None]


# image-file datasets (the image releases and image_folder datasets; not amtnn_digits:
# arrays; not ETT: a time series, windowed by the features rule) write an image index;
# their VGG16 features come from the sharded, resumable extractor
IMAGE_INDEXED = "|".join(_file_release_names() + [d for d in IMAGE_FOLDERS.split("|") if d != "(?!x)x"]) or "(?!x)x"


# datasets whose splits come from published lists (split_lists.<name>.dataset)
SPLIT_LISTS = P.get("split_lists", {})
LIST_OF = {e["dataset"]: name for name, e in SPLIT_LISTS.items() if e.get("dataset")}
LISTED = "|".join(LIST_OF) or "(?!x)x"
UNLISTED = "|".join(d for d in P["datasets"] if d not in LIST_OF) or "(?!x)x"


def split_list_config(wc):
    return json.dumps(SPLIT_LISTS[LIST_OF[wc.dataset]], sort_keys=True)


def download_overrides(wc):
    return json.dumps(P["datasets"][wc.dataset].get("download", {}), sort_keys=True)

wildcard_constraints:
    # exact names: file names join wildcards with '_', so a free pattern would be ambiguous
    dataset="|".join(P["datasets"]),
    method="|".join(P["methods"]),
    backbone="[A-Za-z0-9_]+",
    ratio="[0-9.]+",
    seed="[0-9]+",
    metric="|".join(HIGHER_IS_BETTER),  # the metric names (mtlbench.metrics)


def runtime(rule, default=15):
    """Minutes a cluster job of ``rule`` may run (params.yaml resources.<rule>.runtime)."""
    return P["resources"].get(rule, {}).get("runtime", default)


def mem_mb(rule, default=1000):
    """Memory of a cluster job of ``rule`` in MB (params.yaml resources.<rule>.mem_mb)."""
    return P["resources"].get(rule, {}).get("mem_mb", default)


def backbone_of(dataset):
    return P["datasets"][dataset]["backbone"]


def features_path(dataset):
    return f"data/features/{dataset}/{backbone_of(dataset)}.parquet"


def features_of(wc):
    return features_path(wc.dataset)


def source_config(wc):
    return json.dumps(P["datasets"][wc.dataset]["source"], sort_keys=True)


def source_path(wc):
    src = P["datasets"][wc.dataset]["source"]
    return src.get("path") or src.get("root") or []  # a tabular rdataset has no file


def tasks_of(dataset):
    return ",".join(P["datasets"][dataset]["tasks"])


def backbone_config(wc):
    return json.dumps(P["backbones"][wc.backbone], sort_keys=True)


def backbone_uses_gpu(wc):
    return 1 if P["backbone_uses_gpu"].get(wc.backbone, True) else 0  # Backbone.uses_gpu


def method_hparams(wc):
    # the hyper-parameters, plus the model selection when it is not the final iterate
    # (mtlbench.train pops it; final runs keep their command lines and hashes)
    m = P["methods"][wc.method]
    sel = m.get("selection", {"mode": "final"})
    return json.dumps({**m["hparams"], **({"selection": sel} if sel["mode"] != "final" else {})}, sort_keys=True)


def method_algorithm(wc):
    return P["methods"][wc.method]["method"]


def table_metrics(dataset):
    from mtlbench.data.registry import DATASETS as REGISTRY
    from mtlbench.metrics import ROUTING_TYPES

    entry = P["datasets"][dataset]
    if entry.get("kind") == "routing":  # mean tour length (TSP, CVRP) / prize (OP), and the gap of every task
        from mtlbench.data.kinds import RoutingConfig

        types = {RoutingConfig.task_type(t) for t in entry["tasks"]}
        return [m for t, m in ROUTING_TYPES.items() if t in types] + ["gap"]
    if entry.get("kind") == "tabular":
        types = {entry["source"]["task_type"]}
    elif dataset not in REGISTRY:  # image_folder / feature_file datasets are classification
        return ["accuracy"]
    else:
        types = {REGISTRY[dataset].task_type(t) for t in entry["tasks"]}
    return (["accuracy"] if "classification" in types else []) + (
        ["mse", "mae", "explained_variance"] if "regression" in types else [])


def ratios_of(dataset):
    """The dataset's train ratios: its own (datasets.<name>.train_ratios; ETT: [1]) or the global list."""
    own = P["datasets"][dataset].get("train_ratios")
    return [f"{r:g}" for r in own] if own else RATIOS


def splits_of(dataset):
    return expand("data/splits/{dataset}/r{ratio}_s{seed}.parquet", dataset=dataset, ratio=ratios_of(dataset),
                  seed=SEEDS)


def runs_of(dataset):
    return expand("results/runs/{dataset}/{method}/r{ratio}_s{seed}.json",
                  dataset=dataset, method=METHODS, ratio=ratios_of(dataset), seed=SEEDS)


def all_runs(wc=None):
    return [p for d in DATASETS for p in runs_of(d)]


def tables_of(dataset):
    return expand("results/tables/{dataset}_{ratio}_{metric}.{ext}", dataset=dataset, ratio=ratios_of(dataset),
                  metric=table_metrics(dataset), ext=["md", "tex", "csv"])


def figures_of(dataset):
    out = expand("results/figures/{dataset}_{metric}_vs_ratio.png", dataset=dataset, metric=table_metrics(dataset))
    if RELATION_METHODS:
        out += expand("results/figures/{dataset}_r{ratio}_alpha_heatmap.png", dataset=dataset,
                      ratio=ratios_of(dataset))
    out += expand("results/figures/{dataset}_{method}_r{ratio}_s{seed}_tsne.png", dataset=dataset,
                  method=TSNE_METHODS[:1], ratio=ratios_of(dataset)[:1], seed=SEEDS[:1])
    return out


def grouping_outputs():
    """Similarity, estimator-vs-gain correlation and grouping tables of the similarity datasets."""
    out = []
    for d in P.get("similarity", {}).get("datasets", []):
        # estimators against the measured gains (on a routing dataset: the routing estimators)
        if P["similarity"]["gains"][d] == "transfer_gain" and P["similarity"]["estimators_of"][d]:
            out += [f"results/tables/correlation_{d}.md", f"results/figures/correlation_{d}.png"]
        out += [f"results/tables/grouping_{d}_B{b}.md" for b in P.get("grouping", {}).get("budgets", [])]
    for d in SUBSET_TABLES:
        out += [f"results/grouping/{d}/selection.csv", f"results/tables/grouping_{d}.md",
                f"results/figures/grouping_{d}.png"]
    return out


def all_outputs():
    # robustness_outputs() lives in robustness.smk, included after this file
    out = (["results/metrics.json"] if DATASETS else []) + grouping_outputs() + robustness_outputs()
    if SPLIT_LISTS:
        out += ["results/tables/split_audit.md", "results/tables/split_audit.csv"]
    for d in DATASETS:
        out += tables_of(d) + figures_of(d)
        if PAPER_METHODS:
            out.append(f"results/paper/{d}")
    return out
