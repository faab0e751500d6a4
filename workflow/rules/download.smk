# The raw stage: a registered dataset is built or downloaded; an image_folder dataset
# is indexed (files listed, nothing decoded); a feature_file dataset skips straight to
# its features table.
rule download:
    output:
        "data/raw/{dataset}/manifest.json",
    wildcard_constraints:
        dataset=REGISTERED,
    log:
        "logs/download/{dataset}.log",
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
    log:
        "logs/download/{dataset}.log",
    shell:
        "mtlbench index-images --dataset {wildcards.dataset} --config '{params.config}'"
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
    log:
        "logs/features/{dataset}_precomputed.log",
    shell:
        "mtlbench import-features --dataset {wildcards.dataset} --config '{params.config}'"
        " --out {output} > {log} 2>&1"
