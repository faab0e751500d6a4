# Task similarity: cheap estimators, learned relations, measured transfer gains, and
# how well each estimator predicts the gains (rank correlation).
import itertools
import re

SIM = P.get("similarity", {"datasets": [], "estimators": {}})
GROUPING = P.get("grouping", {})
SIM_DATASETS = list(SIM.get("datasets", []))
SIM_RATIO = f"{SIM.get('ratio', 0.1):g}"
ESTIMATORS = SIM.get("estimators", {})
# dataset -> the label of its gain matrix (similarity.gains): transfer_gain, measured on every
# task alone and every pair, or an estimator's matrix for many tasks (no pair training)
GAINS = SIM.get("gains", {})


def gain_file(d):
    return f"results/similarity/{d}/{GAINS.get(d, 'transfer_gain')}.json"


def gains_measured(d):
    return GAINS.get(d, "transfer_gain") == "transfer_gain"


def sim_split(d, seed=None):
    return f"data/splits/{d}/r{SIM_RATIO}_s{seed if seed is not None else SEEDS[0]}.parquet"


def task_set_name(tasks):
    return "+".join(tasks)


def pair_task_sets(d):
    """Each task alone and every unordered pair: what the transfer gains need."""
    tasks = P["datasets"][d]["tasks"]
    return [task_set_name([t]) for t in tasks] + [task_set_name(p) for p in itertools.combinations(tasks, 2)]


def task_set_record(d, name):
    return f"results/similarity/{d}/task_sets/{name}.json"


def estimator_labels(*inputs):
    """A pattern of the estimator labels whose estimator reads one of ``inputs`` (Estimator.inputs,
    resolved into P); one that matches nothing when there are none."""
    return "|".join(l for l, e in ESTIMATORS.items() if e.get("inputs") in inputs) or "(?!x)x"


def estimator_files(d):
    return [f"results/similarity/{d}/{label}.json" for label in ESTIMATORS] + [
        f"results/similarity/{d}/transfer_gain.json"]


rule similarity:
    # one estimator on the training part of the first seed's split
    input:
        features=features_of,
        split=lambda wc: sim_split(wc.dataset),
    output:
        "results/similarity/{dataset}/{label}.json",
    wildcard_constraints:
        label=estimator_labels("samples", "problem"),
    params:
        estimator=lambda wc: ESTIMATORS[wc.label]["estimator"],
        settings=lambda wc: json.dumps(ESTIMATORS[wc.label]["settings"], sort_keys=True),
        tasks=lambda wc: tasks_of(wc.dataset),
        device=P["device"],
    resources:
        runtime=runtime("similarity"),
        mem_mb=mem_mb("similarity"),
        gpu=lambda wc: 1 if ESTIMATORS[wc.label]["uses_gpu"] else 0,  # Estimator.uses_gpu
    log:
        "logs/similarity/{dataset}_{label}.log",
    benchmark:
        "logs/benchmarks/similarity/{dataset}_{label}.tsv",
    shell:
        "mtlbench similarity --estimator {params.estimator} --name {wildcards.label} --dataset {wildcards.dataset}"
        " --tasks {params.tasks} --features {input.features} --split {input.split} --settings {params.settings:q}"
        " --seed 0 --device {params.device} --threads 1 --quiet --out {output} > {log} 2>&1"


rule similarity_routing:
    # one estimator on a routing dataset: lookaheads of routing_bmtl on generated instances
    # (mtlbench.similarity.routing_lookahead); no features or split
    output:
        "results/similarity/{dataset}/{label}.json",
    wildcard_constraints:
        dataset=ROUTING,
        label=estimator_labels("routing"),
    params:
        estimator=lambda wc: ESTIMATORS[wc.label]["estimator"],
        settings=lambda wc: json.dumps(ESTIMATORS[wc.label]["settings"], sort_keys=True),
        tasks=lambda wc: tasks_of(wc.dataset),
        device=P["device"],
    threads: 1
    resources:
        runtime=runtime("similarity"),
        mem_mb=mem_mb("similarity"),
        gpu=1,
    log:
        "logs/similarity/{dataset}_{label}.log",
    benchmark:
        "logs/benchmarks/similarity/{dataset}_{label}.tsv",
    shell:
        "mtlbench similarity --estimator {params.estimator} --name {wildcards.label} --dataset {wildcards.dataset}"
        " --tasks {params.tasks} --settings {params.settings:q} --seed 0 --device {params.device}"
        " --threads {threads} --quiet --out {output} > {log} 2>&1"


rule similarity_learned:
    # relations learned by a method (VMTL's A, AMTNN's alpha, MRN's task covariance)
    input:
        lambda wc: expand("results/runs/{dataset}/{method}/r{ratio}_s{seed}.json", dataset=wc.dataset,
                          method=ESTIMATORS[wc.label]["settings"]["method"], ratio=SIM_RATIO, seed=SEEDS),
    output:
        "results/similarity/{dataset}/{label}.json",
    wildcard_constraints:
        label=estimator_labels("runs"),
    params:
        settings=lambda wc: json.dumps(ESTIMATORS[wc.label]["settings"], sort_keys=True),
        tasks=lambda wc: tasks_of(wc.dataset),
    log:
        "logs/similarity/{dataset}_{label}.log",
    benchmark:
        "logs/benchmarks/similarity/{dataset}_{label}.tsv",
    shell:
        "mtlbench similarity --estimator learned --name {wildcards.label} --dataset {wildcards.dataset}"
        " --tasks {params.tasks} --runs {input} --settings {params.settings:q} --out {output} > {log} 2>&1"


rule train_task_set:
    # one bMTL network on a set of tasks (alone, a pair, a chosen group, an oracle subset), all seeds
    input:
        features=features_of,
        splits=lambda wc: [sim_split(wc.dataset, s) for s in SEEDS],
    output:
        "results/similarity/{dataset}/task_sets/{taskset}.json",
    wildcard_constraints:
        dataset=UNROUTED,
        taskset="[A-Za-z0-9_+-]+",
    params:
        tasks=lambda wc: wc.taskset.replace("+", ","),
        seeds=" ".join(SEEDS),
        hparams=lambda wc: json.dumps(SIM.get("transfer_gain", {}), sort_keys=True),
        device=P["device"],
    threads: 1
    resources:
        runtime=runtime("train_task_set"),
        mem_mb=mem_mb("train_task_set"),
        gpu=1,
    log:
        "logs/similarity/{dataset}_task_sets/{taskset}.log",
    benchmark:
        "logs/benchmarks/similarity/{dataset}_task_sets/{taskset}.tsv",
    shell:
        "mtlbench train-task-set --features {input.features} --splits {input.splits} --seeds {params.seeds}"
        " --tasks {params.tasks} --hparams {params.hparams:q} --device {params.device} --threads {threads}"
        " --quiet --out {output} > {log} 2>&1"


rule train_routing_task_set:
    # a set of routing tasks trained together (routing_bmtl with similarity.routing_transfer_gain)
    # once per seed, on fresh instances; each task's gap on its evaluation set (the record of train_task_set)
    input:
        lambda wc: routing_files(wc.dataset),
    output:
        "results/similarity/{dataset}/task_sets/{taskset}.json",
    wildcard_constraints:
        dataset=ROUTING,
        taskset="[A-Za-z0-9_+-]+",
    params:
        tasks=lambda wc: wc.taskset.replace("+", ","),
        seeds=" ".join(SEEDS),
        hparams=lambda wc: json.dumps(SIM.get("routing_transfer_gain", {}), sort_keys=True),
        device=P["device"],
    threads: 1
    resources:
        runtime=runtime("train_task_set"),
        mem_mb=mem_mb("train_task_set"),
        gpu=1,
    log:
        "logs/similarity/{dataset}_task_sets/{taskset}.log",
    benchmark:
        "logs/benchmarks/similarity/{dataset}_task_sets/{taskset}.tsv",
    shell:
        "mtlbench train-task-set --routing-data data/routing/{wildcards.dataset} --seeds {params.seeds}"
        " --tasks {params.tasks} --hparams {params.hparams:q} --device {params.device} --threads {threads}"
        " --quiet --out {output} > {log} 2>&1"


def oracle_task_sets(d):
    """Every subset of d's tasks, where the grouping evaluation trains them all (the oracle:
    T <= grouping.oracle_max_tasks); else none."""
    tasks = P["datasets"][d]["tasks"]
    if d not in GROUPING.get("runs", {}) or len(tasks) > GROUPING.get("oracle_max_tasks", 0):
        return []
    return [task_set_name(c) for k in range(1, len(tasks) + 1) for c in itertools.combinations(tasks, k)]


def static_task_sets(d):
    """The task sets of d known before any job runs: each task alone and every pair (the
    measured gains) and the oracle's subsets, smallest first.  (The groups the solvers
    choose are known only after the grouping checkpoint: grouping.smk's chosen_task_sets.)"""
    names = set(pair_task_sets(d)) if gains_measured(d) else set()
    names.update(oracle_task_sets(d))
    return sorted(names, key=lambda n: (n.count("+"), n))


# The static task sets of a dataset are trained in similarity.task_set_chunks jobs (one
# process each, the features read once), not one job per set: chunk k holds every
# chunks-th set from the k-th, so the chunks are alike in size.  Each set's record is the
# one train_task_set would write.  One rule per (dataset, chunk), task_sets_<dataset>_<k>,
# preferred over train_task_set for its files.
def _rule_id(d):
    return re.sub(r"\W", "_", d)


def task_set_inputs(d):
    """What every task-set training of d reads: the routing instances, or the features and
    the similarity ratio's split of each seed."""
    if P["datasets"][d].get("kind") == "routing":
        return routing_files(d)
    return [features_path(d), *(sim_split(d, s) for s in SEEDS)]


def task_set_data_args(d):
    """train-task-set's data arguments for d (those of train_task_set / train_routing_task_set)."""
    if P["datasets"][d].get("kind") == "routing":
        return f"--routing-data data/routing/{d}"
    return f"--features {features_path(d)} --splits {' '.join(sim_split(d, s) for s in SEEDS)}"


def task_set_hparams(d):
    routing = P["datasets"][d].get("kind") == "routing"
    return json.dumps(SIM.get("routing_transfer_gain" if routing else "transfer_gain", {}), sort_keys=True)


TASK_SET_CHUNKS = int(SIM.get("task_set_chunks", 4))
for _d in sorted(set(SIM_DATASETS) | set(GROUPING.get("runs", {}))):
    _names = static_task_sets(_d)
    for _k in range(min(TASK_SET_CHUNKS, len(_names))):
        _chunk = _names[_k::TASK_SET_CHUNKS]

        rule:
            name:
                f"task_sets_{_rule_id(_d)}_{_k}"
            input:
                task_set_inputs(_d),
            output:
                [task_set_record(_d, n) for n in _chunk],
            params:
                data=task_set_data_args(_d),
                sets=" ".join(n.replace("+", ",") for n in _chunk),
                seeds=" ".join(SEEDS),
                hparams=task_set_hparams(_d),
                device=P["device"],
            threads: 1
            resources:
                runtime=runtime("train_task_set") * len(_chunk),  # resources.train_task_set: per set
                mem_mb=mem_mb("train_task_set"),
                gpu=1,
            log:
                f"logs/similarity/{_d}_task_sets/chunk{_k}.log",
            benchmark:
                f"logs/benchmarks/similarity/{_d}_task_sets/chunk{_k}.tsv",
            shell:
                "mtlbench train-task-set {params.data} --seeds {params.seeds} --task-sets {params.sets}"
                " --hparams {params.hparams:q} --device {params.device} --threads {threads}"
                " --quiet --out {output} > {log} 2>&1"

        workflow.ruleorder(f"task_sets_{_rule_id(_d)}_{_k}", "train_task_set", "train_routing_task_set")


rule transfer_gain:
    # gain(i -> t) = accuracy of t trained with i - accuracy of t alone, averaged over seeds
    input:
        lambda wc: [task_set_record(wc.dataset, n) for n in pair_task_sets(wc.dataset)],
    output:
        "results/similarity/{dataset}/transfer_gain.json",
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
    log:
        "logs/similarity/{dataset}_transfer_gain.log",
    benchmark:
        "logs/benchmarks/similarity/{dataset}_transfer_gain.tsv",
    shell:
        "mtlbench transfer-gain --records {input} --dataset {wildcards.dataset} --tasks {params.tasks}"
        " --out {output} > {log} 2>&1"


rule correlation:
    # which cheap estimator predicts transfer: Spearman and Kendall against the measured gains
    input:
        gain="results/similarity/{dataset}/transfer_gain.json",
        estimates=lambda wc: [f"results/similarity/{wc.dataset}/{label}.json"
                              for label in SIM["estimators_of"][wc.dataset]],
    output:
        "results/tables/correlation_{dataset}.md",
        "results/tables/correlation_{dataset}.csv",
        "results/figures/correlation_{dataset}.png",
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
    log:
        "logs/similarity/{dataset}_correlation.log",
    benchmark:
        "logs/benchmarks/similarity/{dataset}_correlation.tsv",
    shell:
        "mtlbench correlation --gain {input.gain} --estimates {input.estimates} --dataset {wildcards.dataset}"
        " --tasks {params.tasks} --out-dir results/tables --figure results/figures/correlation_{wildcards.dataset}.png"
        " > {log} 2>&1"
