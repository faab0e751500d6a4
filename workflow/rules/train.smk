# Every seed of one (dataset, method, ratio) is trained in one process (one job per
# ratio, not per seed: the start-up and the features read are paid once); a method with a
# batched-seed implementation (VMTL family) trains them as one model with a leading seed
# dimension, any other seed after seed (mtlbench.train.run_seeds).  Outputs: one run JSON
# per seed.
rule train_seeds:
    input:
        features=features_of,
        splits=expand("data/splits/{{dataset}}/r{{ratio}}_s{seed}.parquet", seed=SEEDS),
    output:
        expand("results/runs/{{dataset}}/{{method}}/r{{ratio}}_s{seed}.json", seed=SEEDS),
    wildcard_constraints:
        dataset=UNROUTED,
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
    benchmark:
        "logs/benchmarks/train/{dataset}/{method}/r{ratio}_seeds.tsv",
    shell:
        "mtlbench train-seeds --features {input.features} --splits {input.splits} --out {output}"
        " --seeds {params.seeds} --dataset {wildcards.dataset} --tasks {params.tasks}"
        " --method {wildcards.method} --algorithm {params.algorithm} --hparams {params.hparams:q}"
        " --ratio {wildcards.ratio} --device {params.device}"
        f" --threads {{threads}} --gpu-lock-dir {GPU_LOCKS} > {{log}} 2>&1"


rule train_routing:
    # a routing method (its Method.task_types: routing_length / routing_prize) on a routing
    # dataset, every seed in one process: trained on fresh seeded instances, scored on the
    # evaluation sets against the references; the run JSONs of train_seeds (ratio 1: no split)
    input:
        lambda wc: routing_files(wc.dataset),
    output:
        expand("results/runs/{{dataset}}/{{method}}/r{{ratio}}_s{seed}.json", seed=SEEDS),
    wildcard_constraints:
        dataset=ROUTING,
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
    benchmark:
        "logs/benchmarks/train/{dataset}/{method}/r{ratio}_seeds.tsv",
    shell:
        "mtlbench train-seeds --routing-data data/routing/{wildcards.dataset} --out {output}"
        " --seeds {params.seeds} --dataset {wildcards.dataset} --tasks {params.tasks} --method {wildcards.method}"
        " --algorithm {params.algorithm} --hparams {params.hparams:q}"
        " --ratio {wildcards.ratio} --device {params.device}"
        f" --threads {{threads}} --gpu-lock-dir {GPU_LOCKS} > {{log}} 2>&1"
