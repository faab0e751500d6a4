rule splits:
    input:
        features_of,
    output:
        "data/splits/{dataset}/r{ratio}_s{seed}.parquet",
    log:
        "logs/splits/{dataset}_r{ratio}_s{seed}.log",
    shell:
        "mtlbench splits --features {input} --ratio {wildcards.ratio} --seed {wildcards.seed}"
        " --out {output} > {log} 2>&1"
