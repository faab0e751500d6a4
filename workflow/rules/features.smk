rule features:
    input:
        "data/raw/{dataset}/manifest.json",
    output:
        "data/features/{dataset}/{backbone}.parquet",
    wildcard_constraints:
        backbone="(?!precomputed$)[A-Za-z0-9_]+",
    params:
        config=backbone_config,
        device=P["device"],
    threads: 2
    # image_folder datasets decode their JPEGs in DataLoader workers
    resources:
        gpu=backbone_uses_gpu,
    log:
        "logs/features/{dataset}_{backbone}.log",
    shell:
        "mtlbench features --raw data/raw/{wildcards.dataset} --backbone {wildcards.backbone}"
        " --config '{params.config}' --device {params.device} --threads {threads} --workers {threads}"
        " --out {output} > {log} 2>&1"
