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
    resources:
        runtime=runtime("features"),
        mem_mb=mem_mb("features"),
        gpu=backbone_uses_gpu,
    log:
        "logs/features/{dataset}_{backbone}.log",
    shell:
        "mtlbench features --raw data/raw/{wildcards.dataset} --backbone {wildcards.backbone}"
        " --config {params.config:q} --device {params.device} --threads {threads} --workers {threads}"
        " --out {output} > {log} 2>&1"


rule features_files:
    # VGG16 fc7 over image files (a downloaded release or an image_folder dataset, both an
    # image index): DataLoader decoding, resumable shards
    input:
        "data/raw/{dataset}/manifest.json",
    output:
        "data/features/{dataset}/vgg16_fc7.parquet",
    wildcard_constraints:
        dataset=IMAGE_INDEXED,
    params:
        config=lambda wc: json.dumps(P["backbones"]["vgg16_fc7"], sort_keys=True),
        workers=P["features"]["workers"],
        shard_size=P["features"]["shard_size"],
        decode=P["features"]["decode"],
        draft="--jpeg-draft" if P["features"]["jpeg_draft"] else "",
        prefetch=P["features"]["prefetch"],
        skip="--skip-unreadable" if P["features"]["skip_unreadable"] else "",
        device=P["device"],
    threads: 2
    resources:
        runtime=runtime("features_files"),
        mem_mb=mem_mb("features_files"),
        gpu=1,
    log:
        "logs/features/{dataset}_vgg16_fc7.log",
    shell:
        "mtlbench features-files --raw data/raw/{wildcards.dataset} --out {output}"
        " --config {params.config:q} --device {params.device} --threads {threads}"
        " --workers {params.workers} --shard-size {params.shard_size} --decode {params.decode}"
        " --prefetch {params.prefetch} {params.draft} {params.skip} > {log} 2>&1"


ruleorder: features_files > features
