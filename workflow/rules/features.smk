def features_resources(wc):
    """The cluster limits of a features job: resources.features_files for an image index
    (the image releases, image_folder), resources.features for the rest."""
    return "features_files" if wc.dataset in IMAGE_INDEXED.split("|") else "features"


rule features:
    # every backbone over every raw layout (mtlbench.features.extract): arrays in memory,
    # time-series windows, image files decoded in DataLoader workers (VGG16 fc7 in
    # resumable shards); params.yaml features: sets the image decoding
    input:
        "data/raw/{dataset}/manifest.json",
    output:
        "data/features/{dataset}/{backbone}.parquet",
    wildcard_constraints:
        backbone="(?!precomputed$)[A-Za-z0-9_]+",
    params:
        config=backbone_config,
        device=P["device"],
        workers=P["features"]["workers"],
        shard_size=P["features"]["shard_size"],
        decode=P["features"]["decode"],
        draft="--jpeg-draft" if P["features"]["jpeg_draft"] else "",
        prefetch=P["features"]["prefetch"],
        skip="--skip-unreadable" if P["features"]["skip_unreadable"] else "",
    threads: 2
    resources:
        runtime=lambda wc: runtime(features_resources(wc)),
        mem_mb=lambda wc: mem_mb(features_resources(wc)),
        gpu=backbone_uses_gpu,
    log:
        "logs/features/{dataset}_{backbone}.log",
    benchmark:
        "logs/benchmarks/features/{dataset}_{backbone}.tsv",
    shell:
        "mtlbench features --raw data/raw/{wildcards.dataset} --backbone {wildcards.backbone} --out {output}"
        " --config {params.config:q} --device {params.device} --threads {threads} --workers {params.workers}"
        " --shard-size {params.shard_size} --decode {params.decode} --prefetch {params.prefetch}"
        " {params.draft} {params.skip} > {log} 2>&1"
