# The raw stage: a registered dataset is built or downloaded; an image_folder dataset
# is indexed (files listed, nothing decoded); a feature_file dataset skips straight to
# its features table; a routing dataset's instances are generated and solved.
rule download:
    output:
        "data/raw/{dataset}/manifest.json",
    wildcard_constraints:
        dataset=REGISTERED,
    resources:
        runtime=runtime("download"),
        mem_mb=mem_mb("download"),
    log:
        "logs/download/{dataset}.log",
    benchmark:
        "logs/benchmarks/download/{dataset}.tsv",
    shell:
        "mtlbench download --dataset {wildcards.dataset} --out data/raw/{wildcards.dataset} > {log} 2>&1"


rule index_images:
    input:
        source_path,
    output:
        "data/raw/{dataset}/manifest.json",
    wildcard_constraints:
        dataset=IMAGE_FOLDERS,
    params:
        config=source_config,
    resources:
        runtime=runtime("index_images"),
        mem_mb=mem_mb("index_images"),
    log:
        "logs/download/{dataset}.log",
    benchmark:
        "logs/benchmarks/download/{dataset}.tsv",
    shell:
        "mtlbench index-images --dataset {wildcards.dataset} --config {params.config:q}"
        " --out data/raw/{wildcards.dataset} > {log} 2>&1"


rule import_features:
    input:
        source_path,
    output:
        "data/features/{dataset}/precomputed.parquet",
    wildcard_constraints:
        dataset=FEATURE_FILES,
    params:
        config=source_config,
    resources:
        runtime=runtime("import_features"),
        mem_mb=mem_mb("import_features"),
    log:
        "logs/features/{dataset}_precomputed.log",
    benchmark:
        "logs/benchmarks/features/{dataset}_precomputed.tsv",
    shell:
        "mtlbench import-features --dataset {wildcards.dataset} --config {params.config:q}"
        " --out {output} > {log} 2>&1"


rule prepare_release:
    # a real benchmark dataset: download (mirrors, resume, checksums), extract, index
    output:
        "data/raw/{dataset}/manifest.json",
    wildcard_constraints:
        dataset=RELEASES,
    params:
        overrides=download_overrides,
    resources:
        runtime=runtime("prepare_release"),
        mem_mb=mem_mb("prepare_release"),
        download=1,  # cap parallel downloads with --resources download=N
    log:
        "logs/download/{dataset}.log",
    benchmark:
        "logs/benchmarks/download/{dataset}.tsv",
    shell:
        "mtlbench prepare --dataset {wildcards.dataset} --out data/raw/{wildcards.dataset}"
        " --downloads data/raw/downloads --lock data/raw/downloads.lock.json"
        " --overrides {params.overrides:q} > {log} 2>&1"


rule routing_data:
    # a routing task's fixed evaluation set (seeded) and its OR-tools reference solutions
    # (mtlbench.data.routing.build): the instances the methods are scored on, and the gap's reference;
    # OP: guided local search, then CP-SAT on the exact model (op_exact_time_limit_s)
    output:
        "data/routing/{dataset}/{task}.npz",
        "data/routing/{dataset}/{task}.reference.json",
    wildcard_constraints:
        dataset=ROUTING,
        task="|".join(ROUTING_TASK_NAMES),
    params:
        eval_size=routing_setting("eval_size"),
        eval_seed=routing_setting("eval_seed"),
        time_limit=routing_setting("reference_time_limit_s"),
        op_exact=routing_setting("op_exact_time_limit_s"),
    threads: 1
    resources:
        runtime=runtime("routing_data"),
        mem_mb=mem_mb("routing_data"),
    log:
        "logs/routing/{dataset}_{task}.log",
    benchmark:
        "logs/benchmarks/routing/{dataset}_{task}.tsv",
    shell:
        "mtlbench routing-data --tasks {wildcards.task} --eval-size {params.eval_size}"
        " --eval-seed {params.eval_seed} --time-limit {params.time_limit} --op-exact-time-limit {params.op_exact}"
        " --out data/routing/{wildcards.dataset} > {log} 2>&1"
