rule download:
    output:
        "data/raw/{dataset}/manifest.json",
    log:
        "logs/download/{dataset}.log",
    shell:
        "mtlbench download --dataset {wildcards.dataset} --out data/raw/{wildcards.dataset} > {log} 2>&1"
