rule train:
    input:
        features=features_of,
        split="data/splits/{dataset}/r{ratio}_s{seed}.parquet",
    output:
        "results/runs/{dataset}/{method}/r{ratio}_s{seed}.json",
    wildcard_constraints:
        dataset=UNROUTED,
        method=PER_SEED_METHODS,
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
        algorithm=method_algorithm,
        hparams=method_hparams,
        device=P["device"],
    threads: 1
    resources:
        runtime=runtime("train"),
        mem_mb=mem_mb("train"),
        gpu=1,
    log:
        "logs/train/{dataset}/{method}/r{ratio}_s{seed}.log",
    shell:
        "mtlbench train --features {input.features} --split {input.split} --out {output}"
        " --dataset {wildcards.dataset} --tasks {params.tasks} --method {wildcards.method}"
        " --algorithm {params.algorithm} --hparams {params.hparams:q}"
        " --ratio {wildcards.ratio} --seed {wildcards.seed} --device {params.device}"
        f" --threads {{threads}} --gpu-lock-dir {GPU_LOCKS} > {{log}} 2>&1"


rule train_seeds:
    # methods with a batched-seed implementation (VMTL family): every seed of one
    # (dataset, method, ratio) in one process, as one model with a leading seed dimension
    input:
        features=features_of,
        splits=expand("data/splits/{{dataset}}/r{{ratio}}_s{seed}.parquet", seed=SEEDS),
    output:
        expand("results/runs/{{dataset}}/{{method}}/r{{ratio}}_s{seed}.json", seed=SEEDS),
    wildcard_constraints:
        dataset=UNROUTED,
        method=BATCHED_METHODS,
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
        algorithm=method_algorithm,
        hparams=method_hparams,
        device=P["device"],
        seeds=",".join(SEEDS),
    threads: 1
    resources:
        runtime=runtime("train_seeds"),
        mem_mb=mem_mb("train_seeds"),
        gpu=1,
    log:
        "logs/train/{dataset}/{method}/r{ratio}_seeds.log",
    shell:
        "mtlbench train-seeds --features {input.features} --splits {input.splits} --out {output}"
        " --seeds {params.seeds} --dataset {wildcards.dataset} --tasks {params.tasks}"
        " --method {wildcards.method} --algorithm {params.algorithm} --hparams {params.hparams:q}"
        " --ratio {wildcards.ratio} --device {params.device}"
        f" --threads {{threads}} --gpu-lock-dir {GPU_LOCKS} > {{log}} 2>&1"


rule train_routing:
    # a routing method (its Method.task_types: routing_length / routing_prize) on a routing
    # dataset: trained on fresh seeded instances, scored on the evaluation sets against the
    # references; the run JSON of the train rule (ratio 1: no split)
    input:
        lambda wc: routing_files(wc.dataset),
    output:
        "results/runs/{dataset}/{method}/r{ratio}_s{seed}.json",
    wildcard_constraints:
        dataset=ROUTING,
        method=PER_SEED_METHODS,
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
        algorithm=method_algorithm,
        hparams=method_hparams,
        device=P["device"],
    threads: 1
    resources:
        runtime=runtime("train"),
        mem_mb=mem_mb("train"),
        gpu=1,
    log:
        "logs/train/{dataset}/{method}/r{ratio}_s{seed}.log",
    shell:
        "mtlbench train --routing-data data/routing/{wildcards.dataset} --out {output}"
        " --dataset {wildcards.dataset} --tasks {params.tasks} --method {wildcards.method}"
        " --algorithm {params.algorithm} --hparams {params.hparams:q}"
        " --ratio {wildcards.ratio} --seed {wildcards.seed} --device {params.device}"
        f" --threads {{threads}} --gpu-lock-dir {GPU_LOCKS} > {{log}} 2>&1"
