# Task grouping: the program (OR-tools CP-SAT) and its baselines choose groups from the
# measured gains; every chosen group is trained and each grouping scored (regret
# against the oracle where every subset can be trained).
import zlib


def grouping_runs(d):
    """The grouping files of dataset d: name -> {solver, similarity, seed, options}, planned
    by the library from the solver registry (mtlbench.grouping.params.grouping_runs)."""
    return GROUPING["runs"][d]


def grouping_names(d):
    return list(grouping_runs(d))


def grouping_args(wc):
    """--solver, --similarity, the solver's options and --seed of one grouping file."""
    run = grouping_runs(wc.dataset)[wc.name]
    args = [f"--solver {run['solver']}"]
    if run["similarity"]:
        args.append(f"--similarity results/similarity/{wc.dataset}/{run['similarity']}.json")
    args += [f"--{k.replace('_', '-')} {v}" for k, v in run["options"].items()]
    return " ".join(args + [f"--seed {run['seed']}"])


def grouping_inputs(wc):
    out = {"gain": gain_file(wc.dataset)}
    similarity = grouping_runs(wc.dataset)[wc.name]["similarity"]
    if similarity and f"results/similarity/{wc.dataset}/{similarity}.json" != out["gain"]:
        out["similarity"] = f"results/similarity/{wc.dataset}/{similarity}.json"
    return out


def constraint_args():
    g, args = GROUPING, []
    for key, flag in (("max_group_size", "--max-group-size"), ("overlap_max_group_size", "--overlap-max-group-size"),
                      ("max_group_cost", "--max-group-cost"), ("total_cost", "--total-cost")):
        if g.get(key) is not None:
            args.append(f"{flag} {g[key]}")
    if g.get("task_cost"):
        args.append("--task-cost " + ",".join(str(c) for c in g["task_cost"]))
    if g.get("network_cost"):
        args.append(f"--network-cost {g['network_cost']}")
    for key, flag in (("must_link", "--must-link"), ("cannot_link", "--cannot-link")):
        if g.get(key):
            args.append(flag + " " + " ".join(g[key]))
    return " ".join(args)


checkpoint grouping:
    input:
        unpack(grouping_inputs),
    output:
        "results/grouping/{dataset}/B{budget}/{name}.json",
    wildcard_constraints:
        budget="[0-9]+",
        name="[A-Za-z0-9_-]+",
    params:
        solver=grouping_args,
        tasks=lambda wc: tasks_of(wc.dataset),
        constraints=constraint_args(),
        time_limit=GROUPING.get("time_limit_s", 60),
    resources:
        runtime=runtime("grouping"),
        mem_mb=mem_mb("grouping"),
    log:
        "logs/grouping/{dataset}_B{budget}_{name}.log",
    benchmark:
        "logs/benchmarks/grouping/{dataset}_B{budget}_{name}.tsv",
    shell:
        "mtlbench grouping {params.solver} --gain {input.gain} --tasks {params.tasks} --budget {wildcards.budget}"
        " {params.constraints} --time-limit {params.time_limit} --out {output} > {log} 2>&1"


def chosen_groups(d, budget):
    """The task sets of the groups every grouping of d chose at ``budget`` (known once the
    grouping checkpoint has run)."""
    tasks = P["datasets"][d]["tasks"]
    names = set()
    for name in grouping_names(d):
        path = checkpoints.grouping.get(dataset=d, budget=budget, name=name).output[0]
        with open(path) as f:
            names.update(task_set_name([t for t in tasks if t in group]) for group in json.load(f)["groups"])
    return names


# The chosen groups that are not static task sets (similarity.smk) are trained in
# similarity.task_set_chunks jobs per dataset, each one process (the start-up and the
# features read paid once), not one job per group.  A set belongs to part crc32(name) mod
# chunks whatever the other sets are, so a grouping that changes its groups re-runs only
# the parts its new groups fall in (a part re-runs when its list of sets changes).
def chosen_task_sets(d, part):
    static = set(static_task_sets(d))
    names = set().union(*(chosen_groups(d, b) for b in GROUPING.get("budgets", []))) - static
    return sorted((n for n in names if zlib.crc32(n.encode()) % TASK_SET_CHUNKS == part),
                  key=lambda n: (n.count("+"), n))


def chosen_inputs(wc):
    chosen_task_sets(wc.dataset, int(wc.part))  # waits for the groupings (the checkpoint), reads none of them
    return task_set_inputs(wc.dataset)


def chosen_parts(d):
    return [f"results/similarity/{d}/chosen_task_sets/part{k}" for k in range(TASK_SET_CHUNKS)]


rule chosen_task_sets:
    # the chosen groups of one part: each set's record (that of train_task_set) in the folder
    input:
        chosen_inputs,
    output:
        directory("results/similarity/{dataset}/chosen_task_sets/part{part}"),
    wildcard_constraints:
        part="[0-9]+",
    params:
        data=lambda wc: task_set_data_args(wc.dataset),
        sets=lambda wc: " ".join(n.replace("+", ",") for n in chosen_task_sets(wc.dataset, int(wc.part))),
        seeds=" ".join(SEEDS),
        hparams=lambda wc: task_set_hparams(wc.dataset),
        device=P["device"],
    threads: 1
    resources:
        runtime=lambda wc: runtime("train_task_set") * max(1, len(chosen_task_sets(wc.dataset, int(wc.part)))),
        mem_mb=mem_mb("train_task_set"),
        gpu=1,
    log:
        "logs/similarity/{dataset}_task_sets/chosen_part{part}.log",
    benchmark:
        "logs/benchmarks/similarity/{dataset}_task_sets/chosen_part{part}.tsv",
    shell:
        "mtlbench train-task-set {params.data} --seeds {params.seeds} --task-sets {params.sets}"
        " --hparams {params.hparams:q} --device {params.device} --threads {threads}"
        " --quiet --out-dir {output} > {log} 2>&1"


def evaluation_records(wc):
    """The pairs (measured gains) and, for small T, every subset (the oracle), and every group
    of every grouping: in the chosen_task_sets parts, or (a budget not in grouping.budgets)
    one train_task_set record each."""
    d = wc.dataset
    static = set(static_task_sets(d))  # similarity.smk: the pairs and the oracle's subsets
    chosen = chosen_groups(d, wc.budget) - static
    if int(wc.budget) in GROUPING.get("budgets", []):
        return [task_set_record(d, n) for n in sorted(static)] + chosen_parts(d)
    return [task_set_record(d, n) for n in sorted(static | chosen)]


rule evaluate_groupings:
    input:
        groupings=lambda wc: expand("results/grouping/{dataset}/B{budget}/{name}.json", dataset=wc.dataset,
                                    budget=wc.budget, name=grouping_names(wc.dataset)),
        records=evaluation_records,
    output:
        "results/tables/grouping_{dataset}_B{budget}.md",
        "results/tables/grouping_{dataset}_B{budget}.csv",
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
        oracle=lambda wc: (f"--oracle-budget {wc.budget}"
                           if len(P["datasets"][wc.dataset]["tasks"]) <= GROUPING.get("oracle_max_tasks", 0) else ""),
    log:
        "logs/grouping/{dataset}_B{budget}_evaluate.log",
    benchmark:
        "logs/benchmarks/grouping/{dataset}_B{budget}_evaluate.tsv",
    shell:
        "mtlbench evaluate-groupings --groupings {input.groupings} --records {input.records}"
        " --dataset {wildcards.dataset} --tasks {params.tasks} {params.oracle} --out-dir results/tables"
        " --stem grouping_{wildcards.dataset}_B{wildcards.budget} > {log} 2>&1"


rule select_networks:
    """A published subset_scores table: every table solver at every budget, chosen on
    validation and scored on test (mtlbench.grouping.table); no training."""
    input:
        source_path,
    output:
        selection="results/grouping/{dataset}/selection.csv",
        md="results/tables/grouping_{dataset}.md",
        csv="results/tables/grouping_{dataset}.csv",
        figure="results/figures/grouping_{dataset}.png",
    wildcard_constraints:
        dataset="|".join(SUBSET_TABLES) or "(?!x)x",
    params:
        config=source_config,
        solvers=",".join(GROUPING.get("table_solvers", [])),
        draws=GROUPING.get("table_random_draws", 100),
        time_limit=GROUPING.get("time_limit_s", 60),
    log:
        "logs/grouping/{dataset}_select_networks.log",
    benchmark:
        "logs/benchmarks/grouping/{dataset}_select_networks.tsv",
    shell:
        "mtlbench select-networks --dataset {wildcards.dataset} --config '{params.config}' --solvers {params.solvers}"
        " --random-draws {params.draws} --time-limit {params.time_limit} --out {output.selection}"
        " --tables-dir results/tables --figure {output.figure} > {log} 2>&1"
