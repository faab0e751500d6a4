# Task grouping: the program (OR-tools CP-SAT) and its baselines choose groups from the
# measured gains; every chosen group is trained and each grouping scored (regret
# against the oracle where every subset can be trained).


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


def evaluation_records(wc):
    """Every group of every grouping (known once the groupings exist), the pairs (measured
    gains) and, for small T, every subset (the oracle)."""
    tasks = P["datasets"][wc.dataset]["tasks"]
    names = set(static_task_sets(wc.dataset))  # similarity.smk: the pairs and the oracle's subsets
    for name in grouping_names(wc.dataset):
        path = checkpoints.grouping.get(dataset=wc.dataset, budget=wc.budget, name=name).output[0]
        with open(path) as f:
            for group in json.load(f)["groups"]:
                names.add(task_set_name([t for t in tasks if t in group]))
    return [task_set_record(wc.dataset, n) for n in sorted(names)]


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
