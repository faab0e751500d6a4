rule splits:
    # our stratified, seeded split of every task; for time-series windows (ETT, the features
    # table's metadata says so) the chronological train / val / test parts, the same every seed
    input:
        features_of,
    output:
        "data/splits/{dataset}/r{ratio}_s{seed}.parquet",
    wildcard_constraints:
        dataset=UNLISTED,
    resources:
        runtime=runtime("splits"),
        mem_mb=mem_mb("splits"),
    log:
        "logs/splits/{dataset}_r{ratio}_s{seed}.log",
    benchmark:
        "logs/benchmarks/splits/{dataset}_r{ratio}_s{seed}.tsv",
    shell:
        "mtlbench splits --features {input} --ratio {wildcards.ratio} --seed {wildcards.seed}"
        " --out {output} > {log} 2>&1"


rule published_split:
    # the published lists of split_lists (MRN style) mapped onto the dataset; the same
    # split for every seed (seeds then vary only the training)
    input:
        "data/raw/{dataset}/manifest.json",
    output:
        "data/splits/{dataset}/r{ratio}_s{seed}.parquet",
    wildcard_constraints:
        dataset=LISTED,
    params:
        config=split_list_config,
    log:
        "logs/splits/{dataset}_r{ratio}_s{seed}.log",
    benchmark:
        "logs/benchmarks/splits/{dataset}_r{ratio}_s{seed}.tsv",
    shell:
        "mtlbench published-split --raw data/raw/{wildcards.dataset} --config {params.config:q}"
        " --ratio {wildcards.ratio} --out {output} > {log} 2>&1"


rule split_audit:
    # protocol audit of every published split list: duplicates, effective ratios, coverage
    output:
        "results/tables/split_audit.md",
        "results/tables/split_audit.csv",
    params:
        config=lambda wc: json.dumps(SPLIT_LISTS, sort_keys=True),
        ratios=",".join(RATIOS),
    log:
        "logs/tables/split_audit.log",
    benchmark:
        "logs/benchmarks/tables/split_audit.tsv",
    shell:
        "mtlbench audit-splits --config {params.config:q} --ratios {params.ratios} --raw-root data/raw"
        " --out-stem results/tables/split_audit > {log} 2>&1"
