rule train:
    input:
        features=features_of,
        split="data/splits/{dataset}/r{ratio}_s{seed}.parquet",
    output:
        "results/runs/{dataset}/{method}/r{ratio}_s{seed}.json",
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
        algorithm=method_algorithm,
        hparams=method_hparams,
        device=P["device"],
    threads: 1
    resources:
        gpu=1,
    log:
        "logs/train/{dataset}/{method}/r{ratio}_s{seed}.log",
    shell:
        "mtlbench train --features {input.features} --split {input.split} --out {output}"
        " --dataset {wildcards.dataset} --tasks {params.tasks} --method {wildcards.method}"
        " --algorithm {params.algorithm} --hparams '{params.hparams}'"
        " --ratio {wildcards.ratio} --seed {wildcards.seed} --device {params.device}"
        f" --threads {{threads}} --gpu-lock-dir {GPU_LOCKS} > {{log}} 2>&1"
