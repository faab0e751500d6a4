# FGSM robustness (VMTL appendix B.5): each listed method is trained again on one
# split and its test accuracy measured under one-step FGSM at every eps of params.yaml.
ROBUST = P.get("robustness", {"datasets": [], "methods": [], "ratios": [], "eps": [], "eps_unit": "feature_std"})


def robustness_runs_of(datasets, ratios):
    """The FGSM run JSONs of ``datasets`` x robustness.methods x ``ratios`` x seeds."""
    return expand("results/robustness/{dataset}/{method}/r{ratio}_s{seed}.json", dataset=datasets,
                  method=ROBUST["methods"], ratio=ratios, seed=SEEDS)


def robustness_outputs():
    """The robustness tables of params.yaml's robustness: section (none when it is absent)."""
    return expand("results/tables/robustness_{dataset}_{ratio}.{ext}", dataset=ROBUST["datasets"],
                  ratio=[f"{r:g}" for r in ROBUST["ratios"]], ext=["md", "tex", "csv"])


rule robustness:
    # every seed of one (dataset, method, ratio) in one process, seed after seed
    input:
        features=features_of,
        splits=expand("data/splits/{{dataset}}/r{{ratio}}_s{seed}.parquet", seed=SEEDS),
    output:
        expand("results/robustness/{{dataset}}/{{method}}/r{{ratio}}_s{seed}.json", seed=SEEDS),
    params:
        tasks=lambda wc: tasks_of(wc.dataset),
        algorithm=method_algorithm,
        hparams=method_hparams,
        eps=",".join(f"{e:g}" for e in ROBUST["eps"]),
        eps_unit=ROBUST.get("eps_unit", "feature_std"),
        device=P["device"],
        seeds=" ".join(SEEDS),
    threads: 1
    resources:
        runtime=runtime("robustness"),
        mem_mb=mem_mb("robustness"),
        gpu=1,
    log:
        "logs/robustness/{dataset}/{method}/r{ratio}_seeds.log",
    benchmark:
        "logs/benchmarks/robustness/{dataset}/{method}/r{ratio}_seeds.tsv",
    shell:
        "mtlbench robustness --features {input.features} --split {input.splits} --out {output}"
        " --dataset {wildcards.dataset} --tasks {params.tasks} --method {wildcards.method}"
        " --algorithm {params.algorithm} --hparams {params.hparams:q} --eps {params.eps} --eps-unit {params.eps_unit}"
        " --ratio {wildcards.ratio} --seed {params.seeds} --device {params.device}"
        f" --threads {{threads}} --gpu-lock-dir {GPU_LOCKS} > {{log}} 2>&1"


rule robustness_table:
    input:
        lambda wc: robustness_runs_of([wc.dataset], [wc.ratio]),
    output:
        md="results/tables/robustness_{dataset}_{ratio}.md",
        tex="results/tables/robustness_{dataset}_{ratio}.tex",
        csv="results/tables/robustness_{dataset}_{ratio}.csv",
    params:
        methods=",".join(ROBUST["methods"]),
    log:
        "logs/tables/robustness_{dataset}_{ratio}.log",
    benchmark:
        "logs/benchmarks/tables/robustness_{dataset}_{ratio}.tsv",
    shell:
        "mtlbench robustness-table --runs {input} --dataset {wildcards.dataset} --ratio {wildcards.ratio}"
        " --methods {params.methods} --out-dir results/tables > {log} 2>&1"


# coarse target for dvc.yaml's robustness stage
rule robustness_runs:
    input:
        robustness_runs_of(ROBUST["datasets"], [f"{r:g}" for r in ROBUST["ratios"]]),
