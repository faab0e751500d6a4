# Task similarity: cheap estimators, learned relations, measured transfer gains, and
# how well each estimator predicts the gains (rank correlation).
import itertools

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
        label="|".join(l for l, e in ESTIMATORS.items() if e["estimator"] != "learned") or "(?!x)x",
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
    shell:
        "mtlbench similarity --estimator {params.estimator} --name {wildcards.label} --dataset {wildcards.dataset}"
        " --tasks {params.tasks} --features {input.features} --split {input.split} --settings {params.settings:q}"
        " --seed 0 --device {params.device} --threads 1 --quiet --out {output} > {log} 2>&1"


rule similarity_learned:
    # relations learned by a method (VMTL's A, AMTNN's alpha, MRN's task covariance)
    input:
        lambda wc: expand("results/runs/{dataset}/{method}/r{ratio}_s{seed}.json", dataset=wc.dataset,
                          method=ESTIMATORS[wc.label]["settings"]["method"], ratio=SIM_RATIO, seed=SEEDS),
    output:
        "results/similarity/{dataset}/{label}.json",
    wildcard_constraints:
        label="|".join(l for l, e in ESTIMATORS.items() if e["estimator"] == "learned") or "(?!x)x",
    params:
        settings=lambda wc: json.dumps(ESTIMATORS[wc.label]["settings"], sort_keys=True),
        tasks=lambda wc: tasks_of(wc.dataset),
    log:
        "logs/similarity/{dataset}_{label}.log",
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
    shell:
        "mtlbench train-task-set --routing-data data/routing/{wildcards.dataset} --seeds {params.seeds}"
        " --tasks {params.tasks} --hparams {params.hparams:q} --device {params.device} --threads {threads}"
        " --quiet --out {output} > {log} 2>&1"


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
    shell:
        "mtlbench correlation --gain {input.gain} --estimates {input.estimates} --dataset {wildcards.dataset}"
        " --tasks {params.tasks} --out-dir results/tables --figure results/figures/correlation_{wildcards.dataset}.png"
        " > {log} 2>&1"
